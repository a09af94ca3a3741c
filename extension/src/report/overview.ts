/**
 * The top of a report of several notebooks: buttons that fold and unfold the
 * notebooks' sections, and a table with one row per notebook (its verdict, its
 * cells counted by status, its first cause on a line below) whose rows go to the
 * notebook's section. As the HTML report's summary table, for finding one's way in a
 * report of hundreds of cells.
 */
import { Widget } from '@lumino/widgets';

import type { CellStatus, INotebookResult, Verdict } from '../api';
import { cellName } from '../compare';
import { formatSeconds, isGoodStatus, isGoodVerdict, verdictBadge } from '../verdicts';

/** The table's count columns: header, tooltip, and the statuses each counts. */
const COUNTS: { key: string; label: string; title: string; statuses: CellStatus[] }[] = [
  { key: 'identical', label: 'identical', title: 'Identical cells', statuses: ['identical'] },
  {
    key: 'equivalent',
    label: 'equiv.',
    title: 'Cells equal after a normaliser, or volatile between two runs',
    statuses: ['equivalent', 'volatile']
  },
  {
    key: 'different',
    label: 'different',
    title: 'Cells whose output differs, is missing or is extra',
    statuses: ['different', 'missing-output', 'extra-output']
  },
  { key: 'error', label: 'error', title: 'Cells that raised an exception', statuses: ['error'] },
  { key: 'not-run', label: 'not run', title: 'Cells that were not run', statuses: ['not-run'] }
];

/** Verdicts a reader has nothing to look at in (what "expand what failed" skips). */
const NOTHING_TO_SEE: ReadonlySet<Verdict> = new Set<Verdict>([
  'reproduced',
  'reproduced-equivalent',
  'not-checked'
]);

/** Whether a notebook failed or differs: the sections worth opening first. */
export function failedOrDiffers(verdict: Verdict): boolean {
  return !NOTHING_TO_SEE.has(verdict);
}

/**
 * Summary table and fold/unfold buttons of a report.
 */
export class ReportOverview extends Widget {
  constructor(options: ReportOverview.IOptions) {
    super();
    this.addClass('jp-nbrepro-overview');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Notebooks of this check');

    const controls = document.createElement('div');
    controls.className = 'jp-nbrepro-overview-controls';
    controls.setAttribute('role', 'group');
    controls.setAttribute('aria-label', 'Fold and unfold the notebooks');
    const actions: [string, string, string, () => void][] = [
      ['expand-all', 'Expand all', 'Unfold every notebook', options.expandAll],
      ['collapse-all', 'Collapse all', 'Fold every notebook', options.collapseAll],
      [
        'expand-problems',
        'Expand only what failed or differs',
        'Unfold the notebooks that failed or differ, fold the others',
        options.expandProblems
      ]
    ];
    for (const [action, label, title, run] of actions) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'jp-nbrepro-overview-action jp-Button jp-mod-styled jp-mod-minimal';
      button.dataset.action = action;
      button.textContent = label;
      button.title = title;
      button.addEventListener('click', run);
      controls.append(button);
    }

    const table = document.createElement('table');
    table.className = 'jp-nbrepro-overview-table';
    const head = table.createTHead().insertRow();
    const headers: [string, string, string][] = [
      ['notebook', 'Go to the notebook: click its row', ''],
      ['verdict', '', ''],
      ...COUNTS.map(({ label, title }): [string, string, string] => [
        label,
        title,
        'jp-nbrepro-overview-count'
      ]),
      ['time', 'Run time of the notebook', '']
    ];
    for (const [text, title, className] of headers) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.className = className;
      th.textContent = text;
      th.title = title;
      head.append(th);
    }
    const body = table.createTBody();
    for (const nb of options.notebooks) {
      const go = (): void => options.reveal(nb);
      const row = body.insertRow();
      row.className = 'jp-nbrepro-overview-row';
      row.dataset.path = nb.path;
      row.dataset.verdict = nb.verdict;
      // The whole row goes to the section; its button is what the keyboard reaches.
      row.addEventListener('click', go);

      const name = row.insertCell();
      name.className = 'jp-nbrepro-overview-path';
      const link = document.createElement('button');
      link.type = 'button';
      link.className = 'jp-nbrepro-overview-link';
      link.textContent = nb.path;
      link.title = `Go to ${nb.path}`;
      link.setAttribute('aria-label', `Go to ${nb.path}`);
      link.addEventListener('click', event => {
        event.stopPropagation();
        go();
      });
      name.append(link);

      const verdict = row.insertCell();
      verdict.append(verdictBadge(nb.verdict));

      for (const { key, statuses } of COUNTS) {
        const n = nb.cells.filter(cell => statuses.includes(cell.status)).length;
        const td = row.insertCell();
        td.className = 'jp-nbrepro-overview-count';
        td.dataset.count = key;
        td.dataset.zero = String(n === 0);
        td.textContent = String(n);
      }

      const time = row.insertCell();
      time.className = 'jp-nbrepro-overview-time';
      time.textContent =
        nb.seconds !== null && nb.seconds !== undefined ? formatSeconds(nb.seconds) : '';

      // The first cause on a line of its own under the row, the table's full width.
      const text = firstCause(nb);
      if (text) {
        const under = body.insertRow();
        under.className = 'jp-nbrepro-overview-cause-row';
        under.dataset.causeOf = nb.path;
        under.dataset.verdict = nb.verdict;
        under.addEventListener('click', go);
        const cause = under.insertCell();
        cause.className = 'jp-nbrepro-overview-cause';
        cause.colSpan = headers.length;
        cause.textContent = text;
        cause.title = text;
      }
    }
    const scroller = document.createElement('div');
    scroller.className = 'jp-nbrepro-overview-scroller';
    scroller.append(table);
    this.node.append(controls, scroller);
  }
}

export namespace ReportOverview {
  export interface IOptions {
    notebooks: INotebookResult[];
    /** Go to the notebook's section, unfolded. */
    reveal: (notebook: INotebookResult) => void;
    expandAll: () => void;
    collapseAll: () => void;
    expandProblems: () => void;
  }
}

/**
 * Where to look first, in one line: the exception and the cell it was raised in
 * (with what the reason adds to its message), else the reason, else the first
 * cell that differs; then the first root cause nbrepro found.
 */
export function firstCause(nb: INotebookResult): string {
  const reason = nb.reason ?? '';
  if (nb.exception) {
    const failing = nb.failing_cell;
    const where =
      failing !== null && failing !== undefined
        ? cellName(failing, nb.cells.find(c => c.index === failing)?.execution_count)
        : 'a cell';
    const message = nb.message ?? '';
    // what the reason says after the message (a ModuleNotFoundError's hint)
    const at = message ? reason.indexOf(message) : -1;
    const said = at >= 0 ? message + reason.slice(at + message.length) : message || reason;
    return withCause(
      said ? `${nb.exception} in ${where}: ${said}` : `${nb.exception} in ${where}`,
      nb
    );
  }
  if (reason) {
    return withCause(reason, nb);
  }
  const first = nb.cells.find(c => !isGoodStatus(c.status) && c.status !== 'not-run');
  return first ? withCause(`${cellName(first.index, first.execution_count)}: ${first.status}`, nb) : '';
}

/** The root cause nbrepro found, after what went wrong (as the HTML report says it). */
function withCause(text: string, nb: INotebookResult): string {
  const cause = nb.causes?.[0];
  return cause && !isGoodVerdict(nb.verdict) ? `${text} (${cause.summary})` : text;
}
