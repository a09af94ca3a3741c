/**
 * Small DOM helpers shared by the report's widgets.
 */

/** A closed <details> with a title and preformatted text. */
export function collapsible(title: string, text: string, kind: string, open = false): HTMLElement {
  const details = document.createElement('details');
  details.className = 'jp-nbrepro-details';
  details.dataset.kind = kind;
  details.open = open;
  const summary = document.createElement('summary');
  summary.textContent = title;
  const pre = document.createElement('pre');
  pre.textContent = text;
  details.append(summary, pre);
  return details;
}
