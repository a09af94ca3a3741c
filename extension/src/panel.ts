/**
 * The side panel of reproducibility checks: a header, a toolbar (filled by the
 * plugin) and the list of checks (`checklist.ts`).
 */
import { SidePanel } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';

import { CheckList } from './checklist';
import { nbreproIcon } from './icons';
import type { ChecksModel } from './model';

/** DOM id of the panel (used to activate it). */
export const PANEL_ID = 'jp-nbrepro-panel';

/**
 * The side panel: a header, a toolbar (filled by the plugin) and the list.
 */
export class ChecksPanel extends SidePanel {
  constructor(options: ChecksPanel.IOptions) {
    super({ content: new Panel() });
    this.id = PANEL_ID;
    this.addClass('jp-nbrepro-panel');
    this.title.icon = nbreproIcon;
    this.title.caption = 'Reproducibility checks';
    this.node.setAttribute('aria-label', 'Reproducibility checks');

    const heading = document.createElement('h2');
    heading.textContent = 'Reproducibility checks';
    heading.className = 'jp-nbrepro-panel-title jp-text-truncated';
    this.header.addWidget(new Widget({ node: heading }));

    this._list = new CheckList(options.model);
    this.addWidget(this._list);
  }

  /** Emitted when the user asks to open the report of a check. */
  get openRequested(): ISignal<CheckList, number> {
    return this._list.openRequested;
  }

  /** Emitted when the user asks to cancel a check. */
  get cancelRequested(): ISignal<CheckList, number> {
    return this._list.cancelRequested;
  }

  /** Emitted when the user asks for one notebook's section of a check's report. */
  get openNotebookRequested(): ISignal<CheckList, CheckList.INotebookRequest> {
    return this._list.openNotebookRequested;
  }

  /** Mark the entry whose report is in front (or none). */
  setSelected(id: number | null): void {
    this._list.setSelected(id);
  }

  private _list: CheckList;
}

export namespace ChecksPanel {
  export interface IOptions {
    model: ChecksModel;
  }
}

