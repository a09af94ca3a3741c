/**
 * nbdime's notebook diff view of a check's stored vs re-run notebook.
 *
 * Loaded on demand (a separate chunk, with nbdime's styles) the first time a
 * user switches a notebook section of the report to "nbdime diff". Markdown cells
 * the re-run left alone are not shown.
 */
import 'nbdime/lib/common/collapsible.css';
import 'nbdime/lib/upstreaming/flexpanel.css';
import 'nbdime/lib/common/dragpanel.css';
import 'nbdime/lib/styles/variables.css';
import 'nbdime/lib/styles/common.css';
import 'nbdime/lib/styles/diff.css';

import type { CodeEditor } from '@jupyterlab/codeeditor';
import type * as nbformat from '@jupyterlab/nbformat';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';
import type { IDiffEntry } from 'nbdime/lib/diff/diffentries';
import { NotebookDiffModel } from 'nbdime/lib/diff/model';
import { NotebookDiffWidget } from 'nbdime/lib/diff/widget';

/** Build and initialise nbdime's diff widget for `stored` patched by `diff`. */
export async function createNotebookDiff(
  stored: nbformat.INotebookContent,
  diff: IDiffEntry[],
  rendermime: IRenderMimeRegistry,
  editorFactory?: CodeEditor.Factory
): Promise<Widget> {
  const model = new NotebookDiffModel(joinMultiline(stored), diff);
  const hidden = dropUnchangedMarkdown(model);
  const widget = new NotebookDiffWidget({ model, rendermime, editorFactory });
  widget.addClass('jp-nbrepro-nbdime');
  await widget.init();
  disableTrustButtons(widget.node);
  hideMissingCellIds(widget.node);
  if (hidden > 0) {
    const note = new Widget();
    note.addClass('jp-nbrepro-nbdime-note');
    note.node.textContent = `${hidden} unchanged Markdown cell${
      hidden === 1 ? ' is' : 's are'
    } not shown`;
    widget.insertWidget(0, note);
  }
  return widget;
}

/**
 * A re-run leaves Markdown as it was, so nbdime would show every Markdown cell of the
 * notebook, rendered, between the code cells that matter. nbdime's widget has no
 * option to hide unchanged cells (its web app's switch is its own): the cells are
 * left out of the model's chunks, which are what `init()` draws. The number left out.
 */
export function dropUnchangedMarkdown(model: NotebookDiffModel): number {
  const unchangedMarkdown = (cell: NotebookDiffModel['cells'][number]): boolean =>
    cell.cellType === 'markdown' && cell.unchanged && !cell.added && !cell.deleted;
  let dropped = 0;
  model.chunkedCells = model.chunkedCells
    .map(chunk => {
      const kept = chunk.filter(cell => !unchangedMarkdown(cell));
      dropped += chunk.length - kept.length;
      return kept;
    })
    .filter(chunk => chunk.length > 0);
  return dropped;
}

/**
 * nbdime labels each side of a cell with its id, and writes "Cell ID: undefined"
 * for the side that has none (a cell added or removed, an nbformat < 4.5
 * notebook): such labels say nothing and are hidden (nbdime's layout owns them).
 */
export function hideMissingCellIds(node: HTMLElement): void {
  for (const label of node.querySelectorAll<HTMLElement>('.jp-Cellrow-header-cellId')) {
    const id = (label.textContent ?? '').replace(/^\s*Cell ID:\s*/, '').trim();
    if (id === '' || id === 'undefined' || id === 'null') {
      label.style.display = 'none';
      label.setAttribute('aria-hidden', 'true');
    }
  }
}

/**
 * nbdime offers a "Trust" button on every output it renders; trusting an audited
 * output would run its scripts in JupyterLab. The report never trusts outputs:
 * the buttons are disabled and hidden (the stylesheet hides any nbdime adds later).
 */
export function disableTrustButtons(node: HTMLElement): void {
  for (const button of node.querySelectorAll<HTMLButtonElement>(
    'button.jp-Diff-trustOutputButton'
  )) {
    button.disabled = true;
    button.hidden = true;
    button.setAttribute('aria-hidden', 'true');
  }
}

/**
 * The notebook as nbformat reads it: multi-line strings (sources, stream text,
 * MIME data) joined into one string. nbdime's diffs address strings by line of
 * the joined text, so a notebook kept in its on-disk form (lists of lines)
 * would not match the diff.
 */
export function joinMultiline(notebook: nbformat.INotebookContent): nbformat.INotebookContent {
  const join = (value: nbformat.MultilineString): string =>
    Array.isArray(value) ? value.join('') : value;
  const joinBundle = (bundle: nbformat.IMimeBundle | undefined): nbformat.IMimeBundle => {
    const result: nbformat.IMimeBundle = {};
    for (const [mime, value] of Object.entries(bundle ?? {})) {
      result[mime] =
        Array.isArray(value) && value.every(v => typeof v === 'string')
          ? (value as string[]).join('')
          : value;
    }
    return result;
  };
  const cells = notebook.cells.map(cell => {
    const copy = { ...cell, source: join(cell.source) } as nbformat.ICell;
    if (nbformat_isCode(copy)) {
      copy.outputs = copy.outputs.map(output => {
        if (output.output_type === 'stream') {
          return { ...output, text: join(output.text as nbformat.MultilineString) };
        }
        if (output.output_type === 'execute_result' || output.output_type === 'display_data') {
          return { ...output, data: joinBundle(output.data as nbformat.IMimeBundle) };
        }
        return output;
      });
    }
    return copy;
  });
  return { ...notebook, cells };
}

function nbformat_isCode(cell: nbformat.ICell): cell is nbformat.ICodeCell {
  return cell.cell_type === 'code';
}
