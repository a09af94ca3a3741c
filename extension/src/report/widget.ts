/**
 * The report view of one check, shown in the main area.
 *
 * A header with the overall verdict and summary, then one section per
 * notebook and, in it, one row per code cell: the cell's status chip with
 * its reason, the cell's source, and the stored and re-run outputs side by
 * side, rendered read-only with JupyterLab's rendermime (see `rendermime.ts`).
 *
 * Elements carry `data-verdict` / `data-status` / `data-index` / `data-path`
 * so browser tests can assert what is shown.
 */
import type { CodeEditor } from '@jupyterlab/codeeditor';
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISignal, Signal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';

import {
  type ICheckDetail,
  type INotebookResult,
  isActive,
  type NbreproClient
} from '../api';
import { nbreproIcon } from '../icons';
import type { ChecksModel } from '../model';
import { badgeLabel, checkName, isGoodVerdict } from '../verdicts';
import { ReportHeader } from './header';
import { NotebookSection } from './notebook';
import { failedOrDiffers, ReportOverview } from './overview';
import { safeRendermime } from './rendermime';

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
    this._rendermime = safeRendermime(options.rendermime);
    this._languages = options.languages ?? null;
    this._editorFactory = options.editorFactory ?? null;
    this._openCell = options.openCell ?? null;
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

  /**
   * Show only what did not reproduce: hide the notebooks that reproduced, and the
   * cells that reproduced or were not run.
   */
  get onlyDifferences(): boolean {
    return this.hasClass('jp-mod-only-differences');
  }

  set onlyDifferences(value: boolean) {
    if (value === this.onlyDifferences) {
      return;
    }
    this.toggleClass('jp-mod-only-differences', value);
    this._onlyDifferencesChanged.emit(value);
  }

  /** Emitted when "Only differences" is switched, by the user or by `revealNotebook`. */
  get onlyDifferencesChanged(): ISignal<this, boolean> {
    return this._onlyDifferencesChanged;
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
    this.title.label = `Check #${detail.id}: ${checkName(detail)}`;
    this.title.caption = `${detail.source || '(server root)'}: ${badgeLabel(detail)}`;
    this.node.dataset.state = detail.state;
    this.node.dataset.verdict = detail.result?.verdict ?? detail.verdict ?? '';
    this._header.render(detail);
    this._renderBody(detail);
    this._loaded.emit(detail);
  }

  /**
   * Expand the section of the notebook `path` (as the API names it) and scroll to
   * it, once the check is loaded. False when the report has no such notebook.
   */
  async revealNotebook(path: string): Promise<boolean> {
    if (this._detail === null) {
      await new Promise<void>(resolve => {
        const once = (): void => {
          this._loaded.disconnect(once);
          resolve();
        };
        this._loaded.connect(once);
      });
    }
    const section = this._sections.find(s => s.apiPath === path);
    if (!section) {
      return false;
    }
    this._reveal(section);
    return true;
  }

  /** Unfold every notebook's section. */
  expandAll(): void {
    for (const section of this._sections) {
      section.setExpanded(true);
    }
  }

  /** Fold every notebook's section. */
  collapseAll(): void {
    for (const section of this._sections) {
      section.setExpanded(false);
    }
  }

  /** Unfold the sections of the notebooks that failed or differ; fold the others. */
  expandProblems(): void {
    for (const section of this._sections) {
      section.setExpanded(failedOrDiffers(section.verdict));
    }
  }

  /** Unfold `section`, scroll to it and mark it. */
  private _reveal(section: NotebookSection): void {
    if (this.onlyDifferences && isGoodVerdict(section.verdict)) {
      // asked for a notebook "Only differences" hides: show everything again
      this.onlyDifferences = false;
    }
    section.setExpanded(true);
    section.node.scrollIntoView({ block: 'start' });
    for (const w of this._sections) {
      w.toggleClass('jp-mod-revealed', w === section);
    }
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
    this._sections = [];
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
    // The API names notebooks relative to the server root; the result, relative to
    // the checked repository.
    const apiPaths = new Map<string, string>();
    for (const entry of detail.notebooks ?? []) {
      apiPaths.set(entry.repository_path ?? entry.path, entry.path);
    }
    // Cells link to the notebook itself only when it lies under the server root.
    const openable = detail.root !== null;
    const sectionOf = new Map<INotebookResult, NotebookSection>();
    for (const nb of notebooks) {
      const apiPath = apiPaths.get(nb.path) ?? nb.path;
      const openCell = this._openCell;
      const section = new NotebookSection({
        checkId: detail.id,
        notebook: nb,
        apiPath,
        openCell: openable && openCell ? (index: number) => openCell(apiPath, index) : null,
        client: this._client,
        rendermime: this._rendermime,
        languages: this._languages,
        editorFactory: this._editorFactory,
        expanded: notebooks.length <= EXPAND_ALL_UP_TO || failedOrDiffers(nb.verdict)
      });
      sectionOf.set(nb, section);
      this._sections.push(section);
    }
    if (notebooks.length > 1) {
      this._body.addWidget(
        new ReportOverview({
          notebooks,
          reveal: nb => {
            const section = sectionOf.get(nb);
            if (section) {
              this._reveal(section);
            }
          },
          expandAll: () => this.expandAll(),
          collapseAll: () => this.collapseAll(),
          expandProblems: () => this.expandProblems()
        })
      );
    }
    if (notebooks.every(nb => isGoodVerdict(nb.verdict))) {
      // shown by "Only differences" only: it hides every notebook
      const none = new Widget();
      none.addClass('jp-nbrepro-report-empty');
      none.addClass('jp-nbrepro-nothing-differs');
      none.node.textContent = 'Every notebook reproduced: nothing differs.';
      this._body.addWidget(none);
    }
    for (const section of this._sections) {
      this._body.addWidget(section);
    }
  }

  private _client: NbreproClient;
  private _model: ChecksModel;
  private _rendermime: IRenderMimeRegistry;
  private _languages: IEditorLanguageRegistry | null;
  private _editorFactory: CodeEditor.Factory | null;
  private _openCell: ((path: string, index: number) => void) | null;
  private _header: ReportHeader;
  private _body: Panel;
  private _sections: NotebookSection[] = [];
  private _detail: ICheckDetail | null = null;
  private _renderedState = '';
  private _loaded = new Signal<this, ICheckDetail | null>(this);
  private _onlyDifferencesChanged = new Signal<this, boolean>(this);
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
    /** Open the notebook `path` (relative to the server root) at cell `index`. */
    openCell?: ((path: string, index: number) => void) | null;
  }
}
