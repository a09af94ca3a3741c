/**
 * A titled column of the report holding one side's outputs of a cell (stored or
 * re-run), rendered read-only and untrusted.
 */
import type * as nbformat from '@jupyterlab/nbformat';
import { OutputAreaModel, SimplifiedOutputArea } from '@jupyterlab/outputarea';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

/**
 * A titled column holding a read-only output area.
 */
export class OutputColumn extends Panel {
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
