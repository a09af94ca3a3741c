/**
 * The report view of one check, shown in the main area.
 *
 * A header with the overall verdict and summary, then one section per
 * notebook and, in it, one row per code cell: the cell's status chip with
 * its reason, the cell's source, and the stored and re-run outputs side by
 * side, rendered read-only with JupyterLab's rendermime.
 *
 * Elements carry `data-verdict` / `data-status` / `data-index` / `data-path`
 * so browser tests can assert what is shown.
 */
import type { CodeEditor } from '@jupyterlab/codeeditor';
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { Time } from '@jupyterlab/coreutils';
import type * as nbformat from '@jupyterlab/nbformat';
import { OutputAreaModel, SimplifiedOutputArea } from '@jupyterlab/outputarea';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { caretDownIcon, launchIcon } from '@jupyterlab/ui-components';
import type { IDiffEntry } from 'nbdime/lib/diff/diffentries';
import { ISignal, Signal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';

import {
  type CellStatus,
  type ICellResult,
  type ICheckDetail,
  type ICheckSummary,
  type INotebookPair,
  type INotebookResult,
  isActive,
  type NbreproClient,
  NbreproError,
  type Verdict
} from './api';
import { nbreproIcon } from './icons';
import type { ChecksModel } from './model';
import {
  badgeLabel,
  basename,
  CELL_STATUS_DESCRIPTIONS,
  CELL_STATUS_LABELS,
  checkDuration,
  describeProgress,
  formatSeconds,
  isGoodStatus,
  progressFraction,
  VERDICT_DESCRIPTIONS,
  VERDICT_LABELS,
  VERDICT_ORDER
} from './verdicts';

/** Sections start expanded when there are at most this many notebooks. */
const EXPAND_ALL_UP_TO = 5;

/**
 * The content of the report's `MainAreaWidget`.
 */
export class ReportWidget extends Panel {
  constructor(options: ReportWidget.IOptions) {
    super();
    this.checkId = options.id;
    this._client = options.client;
    this._model = options.model;
    this._rendermime = options.rendermime;
    this._languages = options.languages ?? null;
    this._editorFactory = options.editorFactory ?? null;
    this.addClass('jp-nbrepro-report');
    this.node.dataset.checkId = String(options.id);
    this.node.setAttribute('aria-label', `Reproducibility report of check ${options.id}`);
    this.title.icon = nbreproIcon;
    this.title.label = `Check #${options.id}`;

    this._header = new ReportHeader(this._client);
    this.addWidget(this._header);
    this._body = new Panel();
    this._body.addClass('jp-nbrepro-report-body');
    this.addWidget(this._body);

    this._model.changed.connect(this._onModelChanged, this);
  }

  /** The id of the check shown. */
  readonly checkId: number;

  /** The last loaded detail, or null before the first load. */
  get detail(): ICheckDetail | null {
    return this._detail;
  }

  /** Emitted after every (re)load. */
  get loaded(): ISignal<this, ICheckDetail | null> {
    return this._loaded;
  }

  /** Show only cells whose status is not identical/equivalent. */
  get onlyDifferences(): boolean {
    return this.hasClass('jp-mod-only-differences');
  }

  set onlyDifferences(value: boolean) {
    this.toggleClass('jp-mod-only-differences', value);
  }

  /** Fetch the check again and re-render. */
  async reload(): Promise<void> {
    let detail: ICheckDetail;
    try {
      detail = await this._client.getCheck(this.checkId);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this._header.showError(message);
      this._loaded.emit(null);
      throw error;
    }
    if (this.isDisposed) {
      return;
    }
    this._detail = detail;
    this._renderedState = `${detail.state}:${detail.verdict}`;
    this.title.label = `Check #${detail.id}: ${basename(detail.source)}`;
    this.title.caption = `${detail.source || '(server root)'}: ${badgeLabel(detail)}`;
    this.node.dataset.state = detail.state;
    this.node.dataset.verdict = detail.result?.verdict ?? detail.verdict ?? '';
    this._header.render(detail);
    this._renderBody(detail);
    this._loaded.emit(detail);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.changed.disconnect(this._onModelChanged, this);
    super.dispose();
  }

  private _onModelChanged(): void {
    const summary = this._model.get(this.checkId);
    if (!summary || !this._detail) {
      return;
    }
    const state = `${summary.state}:${summary.verdict}`;
    if (state !== this._renderedState) {
      // Started, finished, cancelled...: fetch the full result.
      this._renderedState = state;
      void this.reload().catch(() => undefined);
    } else if (isActive(summary.state)) {
      this._header.renderProgress(summary);
    }
  }

  private _renderBody(detail: ICheckDetail): void {
    // Dispose previous sections (and their output areas).
    for (const widget of [...this._body.widgets]) {
      widget.dispose();
    }
    const result = detail.result;
    if (!result) {
      return;
    }
    const notebooks = result.notebooks ?? [];
    if (notebooks.length === 0) {
      const empty = new Widget();
      empty.addClass('jp-nbrepro-report-empty');
      empty.node.textContent = 'No notebooks were found to check.';
      this._body.addWidget(empty);
      return;
    }
    for (const nb of notebooks) {
      const expanded =
        notebooks.length <= EXPAND_ALL_UP_TO ||
        (nb.verdict !== 'reproduced' && nb.verdict !== 'reproduced-equivalent');
      this._body.addWidget(
        new NotebookSection({
          checkId: detail.id,
          notebook: nb,
          client: this._client,
          rendermime: this._rendermime,
          languages: this._languages,
          editorFactory: this._editorFactory,
          expanded
        })
      );
    }
  }

  private _client: NbreproClient;
  private _model: ChecksModel;
  private _rendermime: IRenderMimeRegistry;
  private _languages: IEditorLanguageRegistry | null;
  private _editorFactory: CodeEditor.Factory | null;
  private _header: ReportHeader;
  private _body: Panel;
  private _detail: ICheckDetail | null = null;
  private _renderedState = '';
  private _loaded = new Signal<this, ICheckDetail | null>(this);
}

export namespace ReportWidget {
  export interface IOptions {
    id: number;
    client: NbreproClient;
    model: ChecksModel;
    rendermime: IRenderMimeRegistry;
    languages?: IEditorLanguageRegistry | null;
    /** Editor factory for nbdime's diff view (JupyterLab's inline editor). */
    editorFactory?: CodeEditor.Factory | null;
  }
}

/**
 * Overall verdict, summary counts, metadata and the HTML report link.
 */
class ReportHeader extends Widget {
  constructor(client: NbreproClient) {
    super();
    this._client = client;
    this.addClass('jp-nbrepro-report-header');
    this._title = document.createElement('div');
    this._title.className = 'jp-nbrepro-report-title';
    this._badge = document.createElement('span');
    this._badge.className = 'jp-nbrepro-badge jp-nbrepro-badge-large';
    this._heading = document.createElement('h1');
    this._heading.className = 'jp-nbrepro-report-source';
    this._link = document.createElement('a');
    this._link.className = 'jp-nbrepro-html-link';
    this._link.target = '_blank';
    this._link.rel = 'noopener noreferrer';
    const linkText = document.createElement('span');
    linkText.textContent = 'Open HTML report';
    launchIcon.element({ container: this._link, tag: 'span', elementPosition: 'center' });
    this._link.append(linkText);
    this._title.append(this._badge, this._heading, this._link);

    this._description = document.createElement('p');
    this._description.className = 'jp-nbrepro-report-description';
    this._summary = document.createElement('ul');
    this._summary.className = 'jp-nbrepro-summary';
    this._summary.setAttribute('aria-label', 'Notebooks by verdict');
    this._meta = document.createElement('dl');
    this._meta.className = 'jp-nbrepro-report-meta';
    this._logs = document.createElement('div');
    this._logs.className = 'jp-nbrepro-report-logs';
    this._progressText = document.createElement('div');
    this._progressText.className = 'jp-nbrepro-report-progress';
    this._progress = document.createElement('progress');
    this._progress.className = 'jp-nbrepro-progress';
    this._progress.max = 1;
    this._error = document.createElement('div');
    this._error.className = 'jp-nbrepro-report-error';
    this._error.setAttribute('role', 'alert');

    this.node.append(
      this._title,
      this._description,
      this._summary,
      this._progressText,
      this._progress,
      this._error,
      this._meta,
      this._logs
    );
    this.showLoading();
  }

  showLoading(): void {
    this._badge.textContent = 'Loading';
    this._badge.dataset.state = 'queued';
    this._heading.textContent = '';
    this._link.hidden = true;
    this._progressText.hidden = true;
    this._progress.hidden = true;
    this._error.hidden = true;
  }

  showError(message: string): void {
    this._error.hidden = false;
    this._error.textContent = message;
  }

  render(detail: ICheckDetail): void {
    const result = detail.result;
    const verdict: Verdict | null = result?.verdict ?? detail.verdict;
    const finished = detail.state === 'finished';
    const label = badgeLabel({ state: detail.state, verdict });
    this._badge.textContent = label;
    this._badge.dataset.state = detail.state;
    this._badge.dataset.verdict = verdict ?? '';
    this._heading.textContent = detail.source || '(server root)';
    this._heading.title = detail.source;

    this._description.textContent =
      finished && verdict ? VERDICT_DESCRIPTIONS[verdict] : '';
    this._description.hidden = !(finished && verdict);

    this._link.href = this._client.reportUrl(detail.id);
    this._link.hidden = !finished;
    this._link.setAttribute('aria-label', `Open the HTML report of check ${detail.id} in a new tab`);

    // Summary: how many notebooks got which verdict.
    const counts: Partial<Record<Verdict, number>> = { ...(result?.summary ?? {}) };
    if (result && Object.keys(counts).length === 0) {
      for (const nb of result.notebooks) {
        counts[nb.verdict] = (counts[nb.verdict] ?? 0) + 1;
      }
    }
    this._summary.replaceChildren(
      ...VERDICT_ORDER.filter(v => (counts[v] ?? 0) > 0).map(v => {
        const li = document.createElement('li');
        li.className = 'jp-nbrepro-summary-item';
        li.dataset.verdict = v;
        const dot = document.createElement('span');
        dot.className = 'jp-nbrepro-dot';
        dot.dataset.verdict = v;
        const text = document.createElement('span');
        text.textContent = `${counts[v]} ${VERDICT_LABELS[v].toLowerCase()}`;
        li.append(dot, text);
        li.title = VERDICT_DESCRIPTIONS[v];
        return li;
      })
    );
    this._summary.hidden = this._summary.childElementCount === 0;

    this.renderProgress(detail);

    this._error.hidden = !detail.error;
    this._error.textContent = detail.error ?? '';

    // Metadata.
    const entries: [string, string][] = [['Check', `#${detail.id}`]];
    if (result?.repository?.commit) {
      entries.push(['Commit', result.repository.commit.slice(0, 12)]);
    }
    if (detail.started_at) {
      entries.push(['Started', Time.format(detail.started_at)]);
    } else if (detail.created_at) {
      entries.push(['Queued', Time.format(detail.created_at)]);
    }
    const seconds = checkDuration(detail);
    if (seconds !== null && !isActive(detail.state)) {
      entries.push(['Took', formatSeconds(seconds)]);
    }
    const env = result?.environment ?? null;
    const lock = result?.lock ?? null;
    if (env) {
      if (env.python_version) {
        entries.push(['Python', env.python_version]);
      }
      if (env.backend) {
        const parts = [env.backend];
        if (env.sandbox && env.sandbox !== 'none') {
          parts.push(`sandbox ${env.sandbox}`);
        } else if (env.sandbox === 'none') {
          parts.push('no sandbox');
        }
        if (env.network === false) {
          parts.push('no network');
        }
        if (env.cached) {
          parts.push('cached');
        }
        entries.push(['Environment', parts.join(', ')]);
      }
    }
    const failed = env?.failed_requirement ?? lock?.failed_requirement;
    if (failed) {
      entries.push(['Failed requirement', failed]);
    }
    if (result?.nbrepro_version) {
      entries.push(['nbrepro', result.nbrepro_version]);
    }
    this._meta.replaceChildren(
      ...entries.flatMap(([key, value]) => {
        const dt = document.createElement('dt');
        dt.textContent = key;
        const dd = document.createElement('dd');
        dd.textContent = value;
        return [dt, dd];
      })
    );

    // Collapsible logs: what was locked, how the environment was built.
    const logs: HTMLElement[] = [];
    if (lock?.text) {
      logs.push(collapsible('Locked requirements', lock.text, 'lock'));
    }
    const lockMessage = lock && lock.ok === false ? lock.message : null;
    const envLog = [lockMessage, env?.message, env?.log].filter(Boolean).join('\n\n');
    if (envLog) {
      logs.push(collapsible('Environment log', envLog, 'environment-log', env?.ok === false));
    }
    this._logs.replaceChildren(...logs);
    this._logs.hidden = logs.length === 0;
  }

  renderProgress(check: ICheckSummary): void {
    const active = isActive(check.state);
    this._progressText.hidden = !active;
    this._progress.hidden = !active;
    if (active) {
      this._progressText.textContent = describeProgress(check);
      const fraction = progressFraction(check.stage, check.progress);
      if (fraction === null) {
        this._progress.removeAttribute('value');
      } else {
        this._progress.value = fraction;
      }
      this._progress.setAttribute('aria-label', describeProgress(check));
    }
  }

  private _client: NbreproClient;
  private _title: HTMLDivElement;
  private _badge: HTMLSpanElement;
  private _heading: HTMLHeadingElement;
  private _link: HTMLAnchorElement;
  private _description: HTMLParagraphElement;
  private _summary: HTMLUListElement;
  private _meta: HTMLDListElement;
  private _logs: HTMLDivElement;
  private _progressText: HTMLDivElement;
  private _progress: HTMLProgressElement;
  private _error: HTMLDivElement;
}

/**
 * One notebook of the check: a collapsible section with a row per code cell.
 */
class NotebookSection extends Panel {
  constructor(options: NotebookSection.IOptions) {
    super();
    this._options = options;
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
    const badge = document.createElement('span');
    badge.className = 'jp-nbrepro-badge';
    badge.dataset.state = 'finished';
    badge.dataset.verdict = nb.verdict;
    badge.textContent = VERDICT_LABELS[nb.verdict] ?? nb.verdict;
    badge.title = VERDICT_DESCRIPTIONS[nb.verdict] ?? '';
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
      const row = new CellRow(cell, options.rendermime, options.languages);
      this._rows.push(row);
      this._cells.addWidget(row);
    }
    this.setExpanded(options.expanded);
  }

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
    const { client, checkId, notebook } = this._options;
    for (const row of this._rows) {
      row.showLoading();
    }
    let pair: INotebookPair;
    try {
      pair = await client.getNotebooks(checkId, notebook.path);
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
        const { createNotebookDiff } = await import('./nbdimeview');
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

namespace NotebookSection {
  export interface IOptions {
    checkId: number;
    notebook: INotebookResult;
    client: NbreproClient;
    rendermime: IRenderMimeRegistry;
    languages: IEditorLanguageRegistry | null;
    editorFactory: CodeEditor.Factory | null;
    expanded: boolean;
  }
}

/**
 * One code cell: status, source, stored vs re-run outputs.
 */
class CellRow extends Panel {
  constructor(
    cell: ICellResult,
    rendermime: IRenderMimeRegistry,
    languages: IEditorLanguageRegistry | null
  ) {
    super();
    this._cell = cell;
    this._rendermime = rendermime;
    this._languages = languages;
    this.addClass('jp-nbrepro-cell');
    this.node.dataset.index = String(cell.index);
    this.node.dataset.status = cell.status;
    this.node.dataset.good = String(isGoodStatus(cell.status));
    this.node.setAttribute('role', 'group');
    this.node.setAttribute(
      'aria-label',
      `Cell ${cell.index}: ${CELL_STATUS_LABELS[cell.status] ?? cell.status}`
    );

    const head = new Widget();
    head.addClass('jp-nbrepro-cell-head');
    const index = document.createElement('span');
    index.className = 'jp-nbrepro-cell-index';
    index.textContent = `#${cell.index}`;
    index.title = `Cell ${cell.index} (0-based position among all cells)`;
    this._count = document.createElement('span');
    this._count.className = 'jp-nbrepro-cell-count';
    const chip = document.createElement('span');
    chip.className = 'jp-nbrepro-chip';
    chip.dataset.status = cell.status;
    chip.textContent = CELL_STATUS_LABELS[cell.status] ?? cell.status;
    chip.title = CELL_STATUS_DESCRIPTIONS[cell.status as CellStatus] ?? '';
    const reason = document.createElement('span');
    reason.className = 'jp-nbrepro-cell-reason';
    reason.textContent = cell.reason ?? '';
    reason.hidden = !cell.reason;
    const time = document.createElement('span');
    time.className = 'jp-nbrepro-cell-time';
    time.textContent = formatSeconds(cell.execution_seconds);
    time.title = 'Execution time of the re-run';
    head.node.append(index, chip, reason, this._count, time);
    this.addWidget(head);

    if (cell.detail) {
      const detail = new Widget({ node: document.createElement('pre') });
      detail.addClass('jp-nbrepro-cell-detail');
      detail.node.textContent = cell.detail;
      this.addWidget(detail);
    }

    const notes: string[] = [];
    if (cell.warnings && cell.warnings.length > 0) {
      notes.push(...cell.warnings.map(w => `Warning: ${w}`));
    }
    if (cell.normalisers && cell.normalisers.length > 1) {
      notes.push(`Normalisers: ${cell.normalisers.join(', ')}`);
    }
    if (typeof cell.image_score === 'number') {
      notes.push(`Image similarity: ${(cell.image_score * 100).toFixed(1)} %`);
    }
    if (notes.length > 0) {
      const list = new Widget({ node: document.createElement('ul') });
      list.addClass('jp-nbrepro-cell-notes');
      list.node.replaceChildren(
        ...notes.map(text => {
          const li = document.createElement('li');
          li.textContent = text;
          return li;
        })
      );
      this.addWidget(list);
    }
    if (cell.suggested_sanitiser) {
      const details = collapsible('Suggested sanitiser', cell.suggested_sanitiser, 'sanitiser');
      this.addWidget(new Widget({ node: details }));
    }

    this._source = new Widget({ node: document.createElement('pre') });
    this._source.addClass('jp-nbrepro-cell-source');
    this._source.addClass('cm-s-jupyter');
    this._source.node.setAttribute('aria-label', `Source of cell ${cell.index}`);
    this._source.hide();
    this.addWidget(this._source);

    this._outputs = new Panel();
    this._outputs.addClass('jp-nbrepro-cell-outputs');
    this._stored = new OutputColumn('Stored output', 'stored');
    this._rerun = new OutputColumn('Re-run output', 'rerun');
    this._outputs.addWidget(this._stored);
    this._outputs.addWidget(this._rerun);
    this.addWidget(this._outputs);

    if (cell.image_diff) {
      const figure = new Widget({ node: document.createElement('figure') });
      figure.addClass('jp-nbrepro-image-diff');
      const img = document.createElement('img');
      img.src = `data:image/png;base64,${cell.image_diff}`;
      img.alt = `Where the images of cell ${cell.index} differ`;
      const caption = document.createElement('figcaption');
      caption.textContent = 'Image difference';
      figure.node.append(caption, img);
      this.addWidget(figure);
    }
  }

  showLoading(): void {
    this._stored.showMessage('Loading…');
    this._rerun.showMessage('Loading…');
  }

  hideOutputs(): void {
    this._outputs.hide();
  }

  setNotebooks(
    stored: nbformat.INotebookContent | null,
    rerun: nbformat.INotebookContent | null,
    language: string
  ): void {
    const storedCell = codeCell(stored, this._cell.index);
    const rerunCell = codeCell(rerun, this._cell.index);
    const sourceCell = storedCell ?? rerunCell;
    if (sourceCell) {
      const source = joinSource(sourceCell.source);
      this._source.node.replaceChildren();
      this._source.show();
      if (this._languages) {
        const lang = this._languages.findBest(language);
        void this._languages
          .highlight(source, lang, this._source.node)
          .catch(() => (this._source.node.textContent = source));
      } else {
        this._source.node.textContent = source;
      }
      const count = storedCell?.execution_count;
      this._count.textContent = typeof count === 'number' ? `In [${count}]` : '';
    }
    this._stored.setOutputs(
      storedCell ? (storedCell.outputs ?? []) : null,
      stored ? 'No stored output' : 'No stored notebook',
      this._rendermime
    );
    const notRun = this._cell.status === 'not-run';
    this._rerun.setOutputs(
      rerunCell && !notRun ? (rerunCell.outputs ?? []) : null,
      notRun || !rerun ? 'Not re-run' : 'No output',
      this._rendermime
    );
  }

  private _cell: ICellResult;
  private _rendermime: IRenderMimeRegistry;
  private _languages: IEditorLanguageRegistry | null;
  private _count: HTMLSpanElement;
  private _source: Widget;
  private _outputs: Panel;
  private _stored: OutputColumn;
  private _rerun: OutputColumn;
}

/**
 * A titled column holding a read-only output area.
 */
class OutputColumn extends Panel {
  constructor(title: string, kind: 'stored' | 'rerun') {
    super();
    this.addClass('jp-nbrepro-output-column');
    this.node.dataset.kind = kind;
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', title);
    const heading = new Widget();
    heading.addClass('jp-nbrepro-output-title');
    heading.node.textContent = title;
    this.addWidget(heading);
    this._message = new Widget();
    this._message.addClass('jp-nbrepro-output-message');
    this.addWidget(this._message);
  }

  showMessage(text: string): void {
    this._area?.dispose();
    this._area = null;
    this._message.node.textContent = text;
    this._message.setHidden(text === '');
  }

  setOutputs(
    outputs: nbformat.IOutput[] | null,
    emptyText: string,
    rendermime: IRenderMimeRegistry
  ): void {
    if (outputs === null || outputs.length === 0) {
      this.showMessage(emptyText);
      this.node.dataset.outputs = '0';
      return;
    }
    this.showMessage('');
    const model = new OutputAreaModel({ values: outputs, trusted: false });
    const area = new SimplifiedOutputArea({ model, rendermime });
    area.addClass('jp-nbrepro-output-area');
    area.disposed.connect(() => model.dispose());
    this._area = area;
    this.addWidget(area);
    this.node.dataset.outputs = String(outputs.length);
  }

  private _message: Widget;
  private _area: SimplifiedOutputArea | null = null;
}

function codeCell(
  notebook: nbformat.INotebookContent | null,
  index: number
): nbformat.ICodeCell | null {
  const cell = notebook?.cells?.[index];
  return cell && cell.cell_type === 'code' ? (cell as nbformat.ICodeCell) : null;
}

function joinSource(source: nbformat.MultilineString): string {
  return Array.isArray(source) ? source.join('') : source;
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

/** Why a notebook did not reproduce, in one line. */
function describeNotebook(nb: INotebookResult): string {
  const parts: string[] = [];
  if (nb.exception) {
    parts.push(nb.message ? `${nb.exception}: ${nb.message}` : nb.exception);
  } else if (nb.message) {
    parts.push(nb.message);
  }
  if (nb.reason && !parts.some(p => p.includes(nb.reason as string))) {
    parts.unshift(nb.reason);
  }
  if (nb.failing_cell !== null && nb.failing_cell !== undefined) {
    parts.push(`in cell #${nb.failing_cell}`);
  }
  return parts.join(' — ');
}

/** A closed <details> with a title and preformatted text. */
function collapsible(title: string, text: string, kind: string, open = false): HTMLElement {
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
