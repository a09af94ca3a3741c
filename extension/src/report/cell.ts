/**
 * One code cell of the report: its status and reason, its source, and the stored
 * and re-run outputs side by side.
 */
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import type * as nbformat from '@jupyterlab/nbformat';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import type { CellStatus, ICellResult } from '../api';
import {
  CELL_STATUS_DESCRIPTIONS,
  CELL_STATUS_LABELS,
  formatSeconds,
  isGoodStatus
} from '../verdicts';
import { collapsible } from './dom';
import { OutputColumn } from './outputs';

/**
 * One code cell: status, source, stored vs re-run outputs.
 */
export class CellRow extends Panel {
  constructor(
    cell: ICellResult,
    rendermime: IRenderMimeRegistry,
    languages: IEditorLanguageRegistry | null,
    open: (() => void) | null = null,
    notebookPath = ''
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
    // "In [24]" as the user knows the cell; a link to it in the notebook when openable.
    this._count = document.createElement(open ? 'button' : 'span');
    this._count.className = 'jp-nbrepro-cell-count';
    if (open) {
      const button = this._count as HTMLButtonElement;
      button.type = 'button';
      button.classList.add('jp-nbrepro-cell-open');
      button.textContent = 'In [ ]';
      button.title = `Open ${notebookPath} at this cell`;
      button.setAttribute('aria-label', `Open ${notebookPath} at cell ${cell.index}`);
      button.addEventListener('click', open);
    }
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
      const link = this._count.tagName === 'BUTTON';
      this._count.textContent =
        typeof count === 'number' ? `In [${count}]` : link ? 'In [ ]' : '';
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
  private _count: HTMLElement;
  private _source: Widget;
  private _outputs: Panel;
  private _stored: OutputColumn;
  private _rerun: OutputColumn;
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

