/**
 * The commands of the extension.
 *
 * `nbrepro:check` checks, depending on where it is invoked:
 * - `args.path`: that path (a notebook or a folder, relative to the server root);
 * - `args.origin === 'file-browser'`: the items selected in the file browser;
 * - otherwise: the current notebook. Checks use what is on disk, so a notebook
 *   with unsaved changes asks "Save and check / Check saved version / Cancel".
 *
 * `nbrepro:check-folder` checks the folder the file browser shows (its empty
 * area's context menu), `nbrepro:check-repository` the git repository around it
 * (the server's root folder when there is none).
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Clipboard,
  Dialog,
  MainAreaWidget,
  Notification,
  showDialog,
  ToolbarButton,
  type WidgetTracker
} from '@jupyterlab/apputils';
import type { IEditorServices } from '@jupyterlab/codeeditor';
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import type { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import {
  copyIcon,
  downloadIcon,
  filterIcon,
  historyIcon,
  launchIcon,
  linkIcon,
  refreshIcon,
  runIcon
} from '@jupyterlab/ui-components';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { type ICheckSummary, type IRepository, NbreproError } from './api';
import { ComparisonWidget, previousCheck } from './compare';
import { nbreproIcon } from './icons';
import type { ChecksModel } from './model';
import { PANEL_ID } from './panel';
import { ReportWidget } from './report';
import { badgeMarkdown, basename } from './verdicts';

export namespace CommandIDs {
  export const check = 'nbrepro:check';
  export const checkFolder = 'nbrepro:check-folder';
  export const checkRepository = 'nbrepro:check-repository';
  export const openPanel = 'nbrepro:open-panel';
  export const openReport = 'nbrepro:open-report';
  export const cancel = 'nbrepro:cancel';
  export const refresh = 'nbrepro:refresh';
}

/** Palette category. */
export const CATEGORY = 'Reproducibility';

export interface ICommandContext {
  app: JupyterFrontEnd;
  model: ChecksModel;
  rendermime: IRenderMimeRegistry;
  reports: WidgetTracker<MainAreaWidget<ReportWidget>>;
  notebooks: INotebookTracker | null;
  fileBrowser: IDefaultFileBrowser | null;
  languages: IEditorLanguageRegistry | null;
  editorServices: IEditorServices | null;
}

/** Show an error to the user; never fail silently. */
export function reportError(title: string, error: unknown): void {
  const message =
    error instanceof NbreproError || error instanceof Error
      ? error.message
      : String(error);
  Notification.error(`${title}: ${message}`, { autoClose: 10000 });
}

export function registerCommands(ctx: ICommandContext): void {
  const { app, model, reports } = ctx;
  const { commands, shell } = app;
  const contents = app.serviceManager.contents;

  /** Open the notebook `path` (relative to the server root) with cell `index` active. */
  const openNotebookAt = async (path: string, index: number): Promise<void> => {
    const widget = await commands.execute('docmanager:open', { path, factory: 'Notebook' });
    const panel = ctx.notebooks?.find(w => w === widget) ?? null;
    if (!panel) {
      return;
    }
    await panel.context.ready;
    await panel.revealed;
    const notebook = panel.content;
    if (index >= 0 && index < notebook.widgets.length) {
      notebook.activeCellIndex = index;
      notebook.deselectAll();
      await notebook.scrollToItem(index, 'center');
    }
  };

  /** Server-root-relative path of a Contents path (drops a drive prefix). */
  const localPath = (path: string): string => contents.localPath(path);

  const isFromBrowser = (args: ReadonlyPartialJSONObject): boolean =>
    args['origin'] === 'file-browser';

  const browserSelection = (): string[] => {
    const browser = ctx.fileBrowser;
    if (!browser) {
      return [];
    }
    const paths: string[] = [];
    for (const item of browser.selectedItems()) {
      if (item.type === 'directory' || item.type === 'notebook') {
        paths.push(localPath(item.path));
      }
    }
    return paths;
  };

  const startChecks = async (paths: string[]): Promise<ICheckSummary[]> => {
    const started: ICheckSummary[] = [];
    for (const path of paths) {
      try {
        started.push(await model.startCheck(path));
      } catch (error) {
        reportError(`Could not check ${path || 'the server root'}`, error);
      }
    }
    if (started.length > 0) {
      shell.activateById(PANEL_ID);
    }
    return started;
  };

  /** The notebook to check, after asking about unsaved changes; null to stop. */
  const prepareNotebook = async (panel: NotebookPanel): Promise<string | null> => {
    const context = panel.context;
    await context.ready;
    if (context.model.dirty && !context.model.readOnly) {
      const name = basename(context.path);
      const result = await showDialog({
        title: 'Unsaved changes',
        body:
          `“${name}” has unsaved changes. A check runs the notebook as it is ` +
          'saved on disk.',
        buttons: [
          Dialog.cancelButton(),
          Dialog.createButton({
            label: 'Check saved version',
            accept: false,
            actions: ['check-saved'],
            ariaLabel: 'Check the saved version'
          }),
          Dialog.okButton({
            label: 'Save and check',
            actions: ['save'],
            ariaLabel: 'Save, then check'
          })
        ],
        defaultButton: 2
      });
      if (result.button.actions.includes('save') && result.button.accept) {
        await context.save();
      } else if (!result.button.actions.includes('check-saved')) {
        return null;
      }
    }
    return localPath(context.path);
  };

  commands.addCommand(CommandIDs.check, {
    label: 'Check reproducibility',
    caption:
      'Re-run from the declared dependencies, in isolation, and compare every output ' +
      'with the stored one',
    icon: args => (args['toolbar'] || isFromBrowser(args) ? nbreproIcon : undefined),
    isEnabled: args => {
      if (typeof args['path'] === 'string') {
        return true;
      }
      if (isFromBrowser(args)) {
        return browserSelection().length > 0;
      }
      return ctx.notebooks?.currentWidget != null;
    },
    execute: async args => {
      let paths: string[];
      if (typeof args['path'] === 'string') {
        paths = [args['path']];
      } else if (isFromBrowser(args)) {
        paths = browserSelection();
      } else {
        const panel = ctx.notebooks?.currentWidget;
        if (!panel) {
          Notification.warning('Open a notebook to check its reproducibility.', {
            autoClose: 5000
          });
          return [];
        }
        let path: string | null;
        try {
          path = await prepareNotebook(panel);
        } catch (error) {
          reportError('Could not save the notebook', error);
          return [];
        }
        if (path === null) {
          return [];
        }
        paths = [path];
      }
      return startChecks(paths);
    },
    describedBy: {
      args: {
        type: 'object',
        properties: {
          path: {
            type: 'string',
            description: 'Notebook or folder to check, relative to the server root'
          },
          origin: {
            type: 'string',
            description: '"file-browser" to check the items selected in the file browser'
          }
        }
      }
    }
  });

  commands.addCommand(CommandIDs.checkFolder, {
    label: 'Check this folder with nbrepro',
    caption:
      'Check every notebook of the folder the file browser shows, with its ' +
      "repository's dependency files",
    icon: nbreproIcon,
    isEnabled: () => ctx.fileBrowser !== null,
    execute: () => {
      const browser = ctx.fileBrowser;
      if (!browser) {
        return [];
      }
      // The server root is "." to the API.
      return startChecks([localPath(browser.model.path) || '.']);
    }
  });

  commands.addCommand(CommandIDs.checkRepository, {
    label: 'Check the repository',
    caption:
      'Check every notebook of the git repository around the folder the file browser ' +
      'shows (the folder JupyterLab serves when there is none)',
    icon: nbreproIcon,
    execute: async () => {
      const shown = ctx.fileBrowser ? localPath(ctx.fileBrowser.model.path) || '.' : '.';
      let repository: IRepository;
      try {
        // the server finds it as a check finds a project root, never above its root
        repository = await model.client.getRepository(shown);
      } catch (error) {
        reportError(`Could not find the repository of ${shown}`, error);
        return [];
      }
      if (!repository.found) {
        Notification.info(
          `No git repository around ${shown === '.' ? 'the server root' : shown}: ` +
            `checking the folder JupyterLab serves (${repository.name}).`,
          { autoClose: 8000 }
        );
      }
      return startChecks([repository.path]);
    }
  });

  commands.addCommand(CommandIDs.openPanel, {
    label: 'Show Reproducibility Checks',
    caption: 'Show the list of reproducibility checks',
    icon: nbreproIcon,
    execute: () => {
      shell.activateById(PANEL_ID);
    }
  });

  commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh Reproducibility Checks',
    caption: 'Refresh the list of checks',
    icon: refreshIcon,
    execute: async () => {
      await model.refresh();
      if (model.error) {
        reportError('Could not list checks', model.error);
      }
    }
  });

  commands.addCommand(CommandIDs.cancel, {
    label: args => (args['id'] !== undefined ? `Cancel Check #${args['id']}` : 'Cancel Check'),
    isEnabled: args => typeof args['id'] === 'number',
    execute: async args => {
      const id = args['id'] as number;
      try {
        await model.cancelCheck(id);
      } catch (error) {
        reportError(`Could not cancel check #${id}`, error);
      }
    }
  });

  commands.addCommand(CommandIDs.openReport, {
    label: args =>
      args['id'] !== undefined ? `Open Report of Check #${args['id']}` : 'Open Check Report',
    icon: nbreproIcon,
    isEnabled: args => typeof args['id'] === 'number',
    execute: args => {
      const id = args['id'] as number;
      // `notebook`: open the report at that notebook's section
      const notebook = typeof args['notebook'] === 'string' ? args['notebook'] : null;
      const reveal = (content: ReportWidget): void => {
        if (notebook !== null) {
          void content.revealNotebook(notebook);
        }
      };
      const existing = reports.find(w => w.content.checkId === id);
      if (existing) {
        shell.activateById(existing.id);
        reveal(existing.content);
        return existing;
      }
      const services = ctx.editorServices;
      const content = new ReportWidget({
        id,
        client: model.client,
        model,
        rendermime: ctx.rendermime,
        languages: ctx.languages,
        editorFactory: services
          ? options => services.factoryService.newInlineEditor(options)
          : null,
        openCell: (path, index) => {
          openNotebookAt(path, index).catch(error =>
            reportError(`Could not open ${path}`, error)
          );
        }
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `jp-nbrepro-report-${id}`;
      widget.title.closable = true;
      widget.addClass('jp-nbrepro-report-widget');
      addReportToolbar(widget, ctx);
      void reports.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
      reveal(content);
      content.reload().catch(error => {
        // A missing server extension is already shown in the panel and the report.
        if (!(error instanceof NbreproError && error.missingExtension)) {
          reportError(`Could not load check #${id}`, error);
        }
      });
      return widget;
    }
  });
}

/** Put `text` on the system clipboard (the Clipboard API, else a copy command). */
async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // not allowed here (an insecure origin): fall back to the copy command
    }
  }
  Clipboard.copyToSystem(text);
}

/** Have the browser save `url` (same origin, so the session's cookie applies). */
function download(url: string, filename: string): void {
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.rel = 'noopener';
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}

function addReportToolbar(
  widget: MainAreaWidget<ReportWidget>,
  ctx: ICommandContext
): void {
  const content = widget.content;
  const toolbar = widget.toolbar;

  toolbar.addItem(
    'refresh',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: 'Reload this report',
      label: '',
      onClick: () => {
        content
          .reload()
          .catch(error => reportError(`Could not load check #${content.checkId}`, error));
      }
    })
  );

  const filter = new ToolbarButton({
    icon: filterIcon,
    label: 'Only differences',
    tooltip: 'Hide the notebooks that reproduced, and cells that reproduced or were not run',
    pressedTooltip: 'Show all cells',
    pressed: false,
    onClick: () => {
      content.onlyDifferences = !content.onlyDifferences;
    }
  });
  content.onlyDifferencesChanged.connect((_, value) => {
    filter.pressed = value;
  });
  filter.addClass('jp-nbrepro-filter-button');
  toolbar.addItem('only-differences', filter);

  const html = new ToolbarButton({
    icon: launchIcon,
    label: 'HTML report',
    tooltip: 'Open the HTML report in a new browser tab',
    onClick: () => {
      window.open(ctx.model.client.reportUrl(content.checkId), '_blank', 'noopener');
    }
  });
  toolbar.addItem('html-report', html);

  const copyBadge = new ToolbarButton({
    icon: copyIcon,
    label: 'Copy badge',
    tooltip: 'Copy the Markdown of this path\'s badge, linking to the HTML report',
    onClick: () => {
      const path = content.detail?.path;
      if (path === null || path === undefined) {
        return;
      }
      const client = ctx.model.client;
      const text = badgeMarkdown(client.badgeUrl(path), client.reportUrl(content.checkId));
      copyText(text)
        .then(() => Notification.success('Badge Markdown copied', { autoClose: 3000 }))
        .catch(error => reportError('Could not copy the badge', error));
    }
  });
  copyBadge.addClass('jp-nbrepro-copy-badge');
  toolbar.addItem('copy-badge', copyBadge);

  const copyEndpoint = new ToolbarButton({
    icon: linkIcon,
    label: 'Copy endpoint',
    tooltip: "Copy the URL of this path's shields.io endpoint (the badge as JSON)",
    onClick: () => {
      const path = content.detail?.path;
      if (path === null || path === undefined) {
        return;
      }
      copyText(ctx.model.client.badgeEndpointUrl(path))
        .then(() => Notification.success('Endpoint URL copied', { autoClose: 3000 }))
        .catch(error => reportError('Could not copy the endpoint URL', error));
    }
  });
  copyEndpoint.addClass('jp-nbrepro-copy-endpoint');

  // Exports: the files the API serves, saved by the browser.
  const exportJson = new ToolbarButton({
    icon: downloadIcon,
    label: 'JSON',
    tooltip: 'Download the results of this check as JSON',
    onClick: () => {
      const id = content.checkId;
      download(ctx.model.client.checkUrl(id), `nbrepro-check-${id}.json`);
    }
  });
  exportJson.addClass('jp-nbrepro-export-json');

  const exportHtml = new ToolbarButton({
    icon: downloadIcon,
    label: 'HTML',
    tooltip: 'Download the HTML report of this check',
    onClick: () => {
      const id = content.checkId;
      download(ctx.model.client.reportUrl(id), `nbrepro-check-${id}.html`);
    }
  });
  exportHtml.addClass('jp-nbrepro-export-html');

  const compare = new ToolbarButton({
    icon: historyIcon,
    label: 'Compare with previous',
    tooltip: 'What changed since the previous check of the same notebook or folder',
    onClick: () => {
      const detail = content.detail;
      const previous = detail ? previousCheck(ctx.model.checks, detail) : undefined;
      if (!detail || !previous) {
        return;
      }
      ctx.model.client
        .getCheck(previous.id)
        .then(before =>
          showDialog({
            title: `${detail.path || 'Server root'}: check #${before.id} → #${detail.id}`,
            body: new ComparisonWidget(before, detail),
            buttons: [Dialog.okButton({ label: 'Close' })]
          })
        )
        .catch(error => reportError(`Could not load check #${previous.id}`, error));
    }
  });
  compare.addClass('jp-nbrepro-compare-button');
  toolbar.addItem('compare-previous', compare);

  const again = new ToolbarButton({
    icon: runIcon,
    label: 'Check again',
    tooltip: 'Start a new check of the same notebook or folder',
    onClick: () => {
      const path = content.detail?.path;
      if (path === null || path === undefined) {
        return;
      }
      ctx.model
        .startCheck(path)
        .then(() => ctx.app.shell.activateById(PANEL_ID))
        .catch(error => reportError(`Could not check ${path}`, error));
    }
  });
  toolbar.addItem('check-again', again);
  // Sharing and exports last: in a narrow window they move to the toolbar's "…" menu.
  toolbar.addItem('copy-endpoint', copyEndpoint);
  toolbar.addItem('export-json', exportJson);
  toolbar.addItem('export-html', exportHtml);

  // Buttons that need a finished check are enabled once it is.
  const update = (): void => {
    const detail = content.detail;
    html.enabled = detail?.state === 'finished';
    copyBadge.enabled = detail?.state === 'finished' && detail.path !== null;
    copyEndpoint.enabled = copyBadge.enabled;
    exportJson.enabled = detail?.state === 'finished';
    exportHtml.enabled = detail?.state === 'finished';
    compare.enabled =
      detail?.state === 'finished' && previousCheck(ctx.model.checks, detail) !== undefined;
    // Only what lies under the server root can be checked from here.
    again.enabled = detail !== null && detail.path !== null;
  };
  content.loaded.connect(update);
  // a newer or older check of the same path may appear while the report is open
  ctx.model.changed.connect(update);
  widget.disposed.connect(() => ctx.model.changed.disconnect(update));
  update();
}
