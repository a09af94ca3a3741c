/**
 * One notebook of a check in the report: a collapsible section with a row per
 * code cell, or nbdime's diff of the whole notebook.
 */
import type { CodeEditor } from '@jupyterlab/codeeditor';
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { caretDownIcon } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';
import type { IDiffEntry } from 'nbdime/lib/diff/diffentries';

import {
  type CellStatus,
  type INotebookPair,
  type INotebookResult,
  type NbreproClient,
  NbreproError,
  type Verdict
} from '../api';
import { CELL_STATUS_LABELS, formatSeconds, verdictBadge } from '../verdicts';
import { causesBlock } from './causes';
import { CellRow } from './cell';

/**
 * One notebook of the check: a collapsible section with a row per code cell.
 */
export class NotebookSection extends Panel {
  constructor(options: NotebookSection.IOptions) {
    super();
    this._options = options;
    this.apiPath = options.apiPath;
    this.verdict = options.notebook.verdict;
    const nb = options.notebook;
    this.addClass('jp-nbrepro-notebook');
    this.node.dataset.path = nb.path;
    this.node.dataset.verdict = nb.verdict;
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', `Notebook ${nb.path}`);

    // Header: toggle, verdict, path, statistics.
    const header = new Widget({ node: document.createElement('header') });
    header.addClass('jp-nbrepro-notebook-header');
    const toggle = (this._toggle = document.createElement('button'));
    toggle.type = 'button';
    toggle.className = 'jp-nbrepro-toggle jp-Button jp-mod-minimal jp-mod-styled';
    caretDownIcon.element({ container: toggle, tag: 'span', elementPosition: 'center' });
    toggle.addEventListener('click', () => this.setExpanded(!this._expanded));
    const badge = verdictBadge(nb.verdict);
    const path = document.createElement('h2');
    path.className = 'jp-nbrepro-notebook-path';
    path.textContent = nb.path;
    path.title = nb.path;
    const stats = document.createElement('span');
    stats.className = 'jp-nbrepro-notebook-stats';
    stats.textContent = describeCells(nb);
    const view = (this._viewButton = document.createElement('button'));
    view.type = 'button';
    view.className = 'jp-nbrepro-view-toggle jp-Button jp-mod-minimal jp-mod-styled';
    view.textContent = 'nbdime diff';
    view.title = "Show nbdime's diff of the whole notebook (stored → re-run)";
    view.setAttribute('aria-pressed', 'false');
    view.setAttribute('aria-label', `Show nbdime's diff of ${nb.path}`);
    view.disabled = true;
    view.hidden = nb.cells.length === 0;
    view.addEventListener('click', () => void this._toggleNbdime());
    header.node.append(toggle, badge, path, stats, view);
    this.addWidget(header);

    // Why: exception, message, failing cell.
    const why = describeNotebook(nb);
    if (why) {
      const message = new Widget({ node: document.createElement('div') });
      message.addClass('jp-nbrepro-notebook-message');
      message.node.dataset.verdict = nb.verdict;
      message.node.textContent = why;
      this.addWidget(message);
    }

    const causes = causesBlock(nb, () => this.setExpanded(true));
    if (causes) this.addWidget(causes);

    this._cells = new Panel();
    this._cells.addClass('jp-nbrepro-cells');
    this.addWidget(this._cells);

    if (nb.cells.length === 0) {
      const none = new Widget();
      none.addClass('jp-nbrepro-report-empty');
      none.node.textContent = 'No cells were compared.';
      this._cells.addWidget(none);
    }
    for (const cell of nb.cells) {
      const open = options.openCell;
      const row = new CellRow(
        cell,
        options.rendermime,
        options.languages,
        open ? () => open(cell.index) : null,
        nb.path
      );
      this._rows.push(row);
      this._cells.addWidget(row);
    }
    this.setExpanded(options.expanded);
  }

  /** The notebook's path as the API names it. */
  readonly apiPath: string;

  /** The notebook's verdict. */
  readonly verdict: Verdict;

  setExpanded(expanded: boolean): void {
    this._expanded = expanded;
    this.toggleClass('jp-mod-collapsed', !expanded);
    this._cells.setHidden(!expanded || this._showingNbdime);
    this._nbdime?.setHidden(!expanded || !this._showingNbdime);
    this._toggle.setAttribute('aria-expanded', String(expanded));
    this._toggle.setAttribute(
      'aria-label',
      `${expanded ? 'Collapse' : 'Expand'} ${this._options.notebook.path}`
    );
    if (expanded && !this._requested && this._rows.length > 0) {
      this._requested = true;
      void this._loadOutputs();
    }
  }

  private async _loadOutputs(): Promise<void> {
    const { client, checkId, apiPath } = this._options;
    for (const row of this._rows) {
      row.showLoading();
    }
    let pair: INotebookPair;
    try {
      pair = await client.getNotebooks(checkId, apiPath);
    } catch (error) {
      const message =
        error instanceof NbreproError || error instanceof Error
          ? error.message
          : String(error);
      for (const row of this._rows) {
        row.hideOutputs();
      }
      const notice = new Widget();
      notice.addClass('jp-nbrepro-outputs-unavailable');
      notice.node.setAttribute('role', 'status');
      notice.node.textContent = `Stored and re-run outputs are not available: ${message}`;
      this.insertWidget(this.widgets.indexOf(this._cells), notice);
      return;
    }
    if (this.isDisposed) {
      return;
    }
    this._pair = pair;
    const hasDiff = pair.stored !== null && Array.isArray(pair.diff);
    this._viewButton.disabled = !hasDiff;
    if (!hasDiff) {
      this._viewButton.title = 'No nbdime diff for this notebook';
    }
    const metadata = pair.stored?.metadata;
    const declared = metadata?.language_info?.name ?? metadata?.kernelspec?.language;
    const language = typeof declared === 'string' && declared ? declared : 'python';
    for (const row of this._rows) {
      row.setNotebooks(pair.stored, pair.rerun, language);
    }
  }

  /** Switch between the per-cell side-by-side view and nbdime's diff. */
  private async _toggleNbdime(): Promise<void> {
    const show = !this._showingNbdime;
    this._showingNbdime = show;
    this._viewButton.setAttribute('aria-pressed', String(show));
    this.toggleClass('jp-mod-nbdime', show);
    if (show && !this._expanded) {
      this.setExpanded(true);
    }
    this._cells.setHidden(show || !this._expanded);
    if (show && this._nbdime === null && this._pair?.stored) {
      const host = new Panel();
      host.addClass('jp-nbrepro-nbdime-host');
      host.node.textContent = 'Loading nbdime…';
      this._nbdime = host;
      this.addWidget(host);
      try {
        const { createNotebookDiff } = await import('./nbdime');
        const widget = await createNotebookDiff(
          this._pair.stored,
          this._pair.diff as IDiffEntry[],
          this._options.rendermime,
          this._options.editorFactory ?? undefined
        );
        host.node.textContent = '';
        host.addWidget(widget);
      } catch (error) {
        host.node.textContent = `nbdime could not show this diff: ${
          error instanceof Error ? error.message : String(error)
        }`;
      }
    }
    this._nbdime?.setHidden(!show || !this._expanded);
  }

  private _options: NotebookSection.IOptions;
  private _viewButton: HTMLButtonElement;
  private _pair: INotebookPair | null = null;
  private _nbdime: Panel | null = null;
  private _showingNbdime = false;
  private _toggle: HTMLButtonElement;
  private _cells: Panel;
  private _rows: CellRow[] = [];
  private _expanded = false;
  private _requested = false;
}

export namespace NotebookSection {
  export interface IOptions {
    checkId: number;
    notebook: INotebookResult;
    /** The notebook's path as the API names it (relative to the server root). */
    apiPath: string;
    client: NbreproClient;
    rendermime: IRenderMimeRegistry;
    languages: IEditorLanguageRegistry | null;
    editorFactory: CodeEditor.Factory | null;
    expanded: boolean;
    /** Open the notebook at the cell of this index (null: not openable from here). */
    openCell?: ((index: number) => void) | null;
  }
}

/** "8 identical · 1 different" */
function describeCells(nb: INotebookResult): string {
  const counts = new Map<CellStatus, number>();
  for (const cell of nb.cells) {
    counts.set(cell.status, (counts.get(cell.status) ?? 0) + 1);
  }
  const parts = [...counts].map(
    ([status, n]) => `${n} ${CELL_STATUS_LABELS[status] ?? status}`
  );
  if (nb.seconds !== null && nb.seconds !== undefined) {
    parts.push(formatSeconds(nb.seconds));
  }
  return parts.join(' · ');
}

/**
 * Why a notebook did not reproduce, in one line: the reason, then what it does not
 * say already (the exception, the cell), so that nothing is said twice.
 */
function describeNotebook(nb: INotebookResult): string {
  const reason = nb.reason ?? '';
  const parts: string[] = reason ? [reason] : [];
  const error = nb.exception
    ? nb.message
      ? `${nb.exception}: ${nb.message}`
      : nb.exception
    : (nb.message ?? '');
  if (error && !reason.includes(nb.exception ?? error)) {
    parts.push(error);
  }
  const cell = nb.failing_cell;
  if (
    cell !== null &&
    cell !== undefined &&
    !/\bIn \[\d*\]|\bcell \d+/.test(reason)
  ) {
    parts.push(`in cell #${cell}`);
  }
  return parts.join(' — ');
}

