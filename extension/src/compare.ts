/**
 * "Compare with the previous check": what changed between two checks of the same
 * path — each notebook's verdict before and now, and the cells whose status
 * changed. Everything shown comes from the audited repository (paths, reasons)
 * and is set as text, never as markup.
 */
import { Widget } from '@lumino/widgets';

import type { ICheckDetail, ICheckSummary, INotebookResult } from './api';
import { CELL_STATUS_LABELS, VERDICT_LABELS } from './verdicts';

/** The newest finished check of the same path before `current`, if any. */
export function previousCheck(
  checks: readonly ICheckSummary[],
  current: Pick<ICheckSummary, 'id' | 'path'>
): ICheckSummary | undefined {
  if (current.path === null) {
    return undefined;
  }
  return checks
    .filter(c => c.id < current.id && c.path === current.path && c.state === 'finished')
    .sort((a, b) => b.id - a.id)[0];
}

/** One notebook's change between two checks. */
export interface INotebookChange {
  path: string;
  before: INotebookResult | null;
  after: INotebookResult | null;
  /** `In [n]: before → now` for each cell whose status changed. */
  cells: string[];
}

/** `In [n]` as the notebook shows a cell, else its position. */
export function cellName(index: number, count: number | null | undefined): string {
  return typeof count === 'number' ? `In [${count}]` : `cell ${index}`;
}

/** Every notebook of either check, in the newer check's order; unchanged ones too. */
export function compareChecks(before: ICheckDetail, after: ICheckDetail): INotebookChange[] {
  const old = new Map((before.result?.notebooks ?? []).map(nb => [nb.path, nb]));
  const changes: INotebookChange[] = [];
  for (const nb of after.result?.notebooks ?? []) {
    const was = old.get(nb.path) ?? null;
    old.delete(nb.path);
    const cells: string[] = [];
    if (was !== null) {
      const wasCells = new Map(was.cells.map(c => [c.index, c]));
      for (const cell of nb.cells) {
        const prior = wasCells.get(cell.index);
        if (prior !== undefined && prior.status !== cell.status) {
          cells.push(
            `${cellName(cell.index, cell.execution_count)}: ${CELL_STATUS_LABELS[prior.status] ?? prior.status}` +
              ` → ${CELL_STATUS_LABELS[cell.status] ?? cell.status}`
          );
        }
      }
    }
    changes.push({ path: nb.path, before: was, after: nb, cells });
  }
  for (const [path, was] of old) {
    changes.push({ path, before: was, after: null, cells: [] });
  }
  return changes;
}

function verdictLabel(nb: INotebookResult | null): string {
  return nb === null ? 'not checked then' : (VERDICT_LABELS[nb.verdict] ?? nb.verdict);
}

/** The comparison as a table, for a dialog's body. */
export class ComparisonWidget extends Widget {
  constructor(before: ICheckDetail, after: ICheckDetail) {
    super();
    this.addClass('jp-nbrepro-comparison');
    const changes = compareChecks(before, after);
    const changed = changes.filter(
      c => c.before?.verdict !== c.after?.verdict || c.cells.length > 0
    );
    const intro = document.createElement('p');
    intro.className = 'jp-nbrepro-comparison-summary';
    intro.textContent =
      changed.length === 0
        ? `Nothing changed since check #${before.id}.`
        : `${changed.length} of ${changes.length} notebook(s) changed since check #${before.id}.`;
    this.node.append(intro);
    const table = document.createElement('table');
    const head = table.createTHead().insertRow();
    for (const title of ['notebook', `check #${before.id}`, `check #${after.id}`, 'cells']) {
      const th = document.createElement('th');
      th.textContent = title;
      head.append(th);
    }
    const body = table.createTBody();
    for (const change of changes) {
      const row = body.insertRow();
      row.dataset.path = change.path;
      row.dataset.changed = String(changed.includes(change));
      const texts = [
        change.path,
        verdictLabel(change.before),
        change.after === null ? 'not checked now' : verdictLabel(change.after),
        change.cells.join('; ') || (change.before && change.after ? 'no cell changed' : '')
      ];
      texts.forEach((text, i) => {
        const cell = row.insertCell();
        cell.textContent = text;
        if (i === 1 || i === 2) {
          const nb = i === 1 ? change.before : change.after;
          cell.dataset.verdict = nb?.verdict ?? '';
        }
      });
    }
    this.node.append(table);
  }
}
