/**
 * jupyter-nbrepro: the JupyterLab front end of nbrepro.
 *
 * Adds a "Check reproducibility" command (notebook toolbar, command palette,
 * file browser context menu), a side panel listing checks with live progress,
 * and a report view comparing stored and re-run outputs cell by cell.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  Notification,
  ToolbarButton,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { CommandToolbarButton, refreshIcon } from '@jupyterlab/ui-components';

import { type ICheckSummary, NbreproClient } from './api';
import { CATEGORY, CommandIDs, registerCommands } from './commands';
import { ChecksModel } from './model';
import { ChecksPanel } from './panel';
import type { ReportWidget } from './report';
import { badgeLabel, checkError, checkName } from './verdicts';

const PLUGIN_ID = 'jupyter-nbrepro:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Check whether notebooks reproduce their stored outputs, and show why not, cell by cell.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [
    ICommandPalette,
    ILayoutRestorer,
    INotebookTracker,
    IDefaultFileBrowser,
    IEditorLanguageRegistry,
    IEditorServices
  ],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    fileBrowser: IDefaultFileBrowser | null,
    languages: IEditorLanguageRegistry | null,
    editorServices: IEditorServices | null
  ) => {
    const client = new NbreproClient(app.serviceManager.serverSettings);
    const model = new ChecksModel(client);
    const reports = new WidgetTracker<MainAreaWidget<ReportWidget>>({
      namespace: 'nbrepro-report'
    });

    registerCommands({
      app,
      model,
      rendermime,
      reports,
      notebooks,
      fileBrowser,
      languages,
      editorServices
    });

    // Side panel.
    const panel = new ChecksPanel({ model });
    panel.toolbar.addItem(
      'check',
      new CommandToolbarButton({
        commands: app.commands,
        id: CommandIDs.check,
        args: { toolbar: true },
        label: 'Check notebook'
      })
    );
    panel.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: 'Refresh the list of checks',
        onClick: () => void app.commands.execute(CommandIDs.refresh)
      })
    );
    panel.openRequested.connect((_, id) => {
      void app.commands.execute(CommandIDs.openReport, { id });
    });
    panel.openNotebookRequested.connect((_, { id, path }) => {
      void app.commands.execute(CommandIDs.openReport, { id, notebook: path });
    });
    panel.cancelRequested.connect((_, id) => {
      void app.commands.execute(CommandIDs.cancel, { id });
    });
    reports.currentChanged.connect((_, widget) => {
      panel.setSelected(widget ? widget.content.checkId : null);
    });
    app.shell.add(panel, 'right', { rank: 600, type: 'Reproducibility checks' });

    // Keep the notebook toolbar button's enabled state current.
    notebooks?.currentChanged.connect(() => {
      app.commands.notifyCommandChanged(CommandIDs.check);
    });

    // Tell the user when a check they saw running settles, unless its report is
    // in front (it shows the outcome); the notice goes once the report is opened,
    // so it never covers the report.
    const notices = new Map<number, string>();
    const reportInFront = (id: number): boolean => {
      const current = app.shell.currentWidget;
      return (
        current !== null &&
        reports.has(current as MainAreaWidget<ReportWidget>) &&
        (current as MainAreaWidget<ReportWidget>).content.checkId === id
      );
    };
    model.settled.connect((_, check) => {
      if (!reportInFront(check.id)) {
        notices.set(check.id, notifySettled(app, check));
      }
    });
    const dismissNotice = (widget: MainAreaWidget<ReportWidget> | null): void => {
      const notice = widget ? notices.get(widget.content.checkId) : undefined;
      if (widget && notice !== undefined) {
        Notification.dismiss(notice);
        notices.delete(widget.content.checkId);
      }
    };
    reports.currentChanged.connect((_, widget) => dismissNotice(widget));
    reports.widgetAdded.connect((_, widget) => dismissNotice(widget));

    if (palette) {
      for (const command of [
        CommandIDs.check,
        CommandIDs.checkFolder,
        CommandIDs.checkRepository,
        CommandIDs.openPanel,
        CommandIDs.refresh
      ]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }

    if (restorer) {
      restorer.add(panel, 'nbrepro-panel');
      void restorer.restore(reports, {
        command: CommandIDs.openReport,
        args: widget => ({ id: widget.content.checkId }),
        name: widget => String(widget.content.checkId)
      });
    }

    // Start polling once the layout is restored (errors show in the panel).
    void app.restored.then(() => model.start());
  }
};

/** Notify that `check` settled; the notification's id. */
function notifySettled(app: JupyterFrontEnd, check: ICheckSummary): string {
  const label = badgeLabel(check);
  const error = checkError(check);
  const message = `Check of ${checkName(check)}: ${label}${error ? ` (${error})` : ''}`;
  let type: Notification.TypeOptions = 'info';
  if (check.state === 'error') {
    type = 'error';
  } else if (check.state === 'finished') {
    switch (check.verdict) {
      case 'reproduced':
      case 'reproduced-equivalent':
        type = 'success';
        break;
      case 'differs':
      case 'not-checked':
        type = 'warning';
        break;
      default:
        type = 'error';
    }
  }
  return Notification.emit(message, type, {
    autoClose: 8000,
    actions: [
      {
        label: 'Show report',
        caption: `Open the report of check #${check.id}`,
        callback: () => {
          void app.commands.execute(CommandIDs.openReport, { id: check.id });
        }
      }
    ]
  });
}

export default plugin;
