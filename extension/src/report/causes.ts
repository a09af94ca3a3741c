/**
 * A notebook's root causes at the top of its section: each said once, with the
 * cells it explains as buttons that scroll to the cell's row.
 */
import { Widget } from '@lumino/widgets';

import type { INotebookResult } from '../api';
import { cellName } from '../compare';

/** Cells named per cause; the rest are counted. */
const MOST_CELLS = 10;

/** What the block is called by screen readers and tests. */
const LABEL = 'Root causes';

/**
 * The causes block of a notebook, or null when nothing explains its changes.
 * `expand` opens the section so that the row of a clicked cell can be shown.
 */
export function causesBlock(
  nb: INotebookResult,
  expand: () => void
): Widget | null {
  const causes = nb.causes ?? [];
  if (causes.length === 0) {
    return null;
  }
  const list = document.createElement('ul');
  list.className = 'jp-nbrepro-causes';
  list.setAttribute('aria-label', LABEL);
  const widget = new Widget({ node: list });
  for (const cause of causes) {
    const item = document.createElement('li');
    item.className = 'jp-nbrepro-cause';
    item.dataset.cause = cause.kind;
    const summary = document.createElement('span');
    summary.className = 'jp-nbrepro-cause-summary';
    summary.textContent = cause.summary; // repository text: never markup
    item.append(summary);
    const shown = cause.cells.slice(0, MOST_CELLS);
    if (shown.length > 0) {
      item.append(' — ');
    }
    shown.forEach((index, n) => {
      if (n > 0) {
        item.append(', ');
      }
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'jp-nbrepro-cause-cell';
      button.dataset.index = String(index);
      button.textContent = cellName(
        index,
        nb.cells.find(cell => cell.index === index)?.execution_count
      );
      button.title = `Show cell ${index} in this report`;
      button.addEventListener('click', () => {
        expand();
        const section = widget.node.closest('.jp-nbrepro-notebook');
        const row = section?.querySelector<HTMLElement>(
          `.jp-nbrepro-cell[data-index="${index}"]`
        );
        if (row) {
          row.scrollIntoView({ block: 'start' });
          row.classList.add('jp-mod-cause-target');
          window.setTimeout(() => row.classList.remove('jp-mod-cause-target'), 2000);
        }
      });
      item.append(button);
    });
    const more = cause.cells.length - shown.length;
    if (more > 0) {
      item.append(` and ${more} more`);
    }
    list.append(item);
  }
  return widget;
}
