/**
 * The list of checks in the side panel, with live progress.
 *
 * Each entry is an `li.jp-nbrepro-check` carrying `data-check-id`,
 * `data-state`, `data-verdict`, `data-source` and `data-path`; entries are
 * updated in place (keyed by id) so focus and hover survive the polling.
 */
import { Time } from '@jupyterlab/coreutils';
import { folderIcon, notebookIcon, stopIcon } from '@jupyterlab/ui-components';
import type { LabIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { type ICheckSummary, isActive } from './api';
import type { ChecksModel } from './model';
import {
  badgeLabel,
  checkDuration,
  checkError,
  checkName,
  describeProgress,
  dirname,
  formatSeconds,
  progressFraction,
  VERDICT_DESCRIPTIONS,
  VERDICT_LABELS
} from './verdicts';

/**
 * The list of checks itself.
 */
export class CheckList extends Widget {
  constructor(model: ChecksModel) {
    super();
    this._model = model;
    this.addClass('jp-nbrepro-list');

    this._banner = document.createElement('div');
    this._banner.className = 'jp-nbrepro-banner';
    this._banner.setAttribute('role', 'alert');
    this._banner.hidden = true;

    this._empty = document.createElement('div');
    this._empty.className = 'jp-nbrepro-empty';
    this._empty.hidden = true;

    this._ul = document.createElement('ul');
    this._ul.className = 'jp-nbrepro-checks';
    this._ul.setAttribute('aria-label', 'Checks, newest first');

    this.node.append(this._banner, this._empty, this._ul);
    model.changed.connect(this._render, this);
    this._render();
  }

  get openRequested(): ISignal<this, number> {
    return this._openRequested;
  }

  get cancelRequested(): ISignal<this, number> {
    return this._cancelRequested;
  }

  /** Emitted when the user asks for one notebook's section of a check's report. */
  get openNotebookRequested(): ISignal<this, CheckList.INotebookRequest> {
    return this._openNotebookRequested;
  }

  setSelected(id: number | null): void {
    this._selected = id;
    for (const [entryId, entry] of this._entries) {
      entry.setSelected(entryId === id);
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._stopTicker();
    this._model.changed.disconnect(this._render, this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._render();
  }

  protected onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this._stopTicker();
  }

  private _render(): void {
    const model = this._model;
    const error = model.error;
    this._banner.hidden = error === null;
    this._banner.textContent = error ? error.message : '';

    const checks = model.checks;
    if (!model.loaded) {
      this._empty.hidden = false;
      this._empty.textContent = 'Loading checks…';
    } else if (checks.length === 0 && error === null) {
      this._empty.hidden = false;
      this._empty.textContent =
        'No checks yet. Click “Check reproducibility” in a notebook’s toolbar, ' +
        'or right-click a notebook or folder in the file browser.';
    } else {
      this._empty.hidden = true;
    }

    // Keyed update: reuse entries, keep order newest first.
    const seen = new Set<number>();
    let previous: HTMLElement | null = null;
    for (const check of checks) {
      seen.add(check.id);
      let entry = this._entries.get(check.id);
      if (!entry) {
        entry = new CheckEntry(
          check.id,
          id => this._openRequested.emit(id),
          id => this._cancelRequested.emit(id),
          (id, path) => this._openNotebookRequested.emit({ id, path })
        );
        this._entries.set(check.id, entry);
      }
      entry.update(check);
      entry.setSelected(check.id === this._selected);
      const expected: ChildNode | null = previous
        ? previous.nextSibling
        : this._ul.firstChild;
      if (expected !== entry.node) {
        this._ul.insertBefore(entry.node, expected);
      }
      previous = entry.node;
    }
    for (const [id, entry] of this._entries) {
      if (!seen.has(id)) {
        entry.node.remove();
        this._entries.delete(id);
      }
    }

    if (checks.some(c => isActive(c.state)) && this.isVisible) {
      this._startTicker();
    } else {
      this._stopTicker();
    }
  }

  /** Refresh elapsed times of running checks between polls. */
  private _startTicker(): void {
    if (this._ticker !== null) {
      return;
    }
    this._ticker = window.setInterval(() => {
      for (const check of this._model.checks) {
        if (isActive(check.state)) {
          this._entries.get(check.id)?.updateTime(check);
        }
      }
    }, 1000);
  }

  private _stopTicker(): void {
    if (this._ticker !== null) {
      window.clearInterval(this._ticker);
      this._ticker = null;
    }
  }

  private _model: ChecksModel;
  private _banner: HTMLDivElement;
  private _empty: HTMLDivElement;
  private _ul: HTMLUListElement;
  private _entries = new Map<number, CheckEntry>();
  private _selected: number | null = null;
  private _ticker: number | null = null;
  private _openRequested = new Signal<this, number>(this);
  private _cancelRequested = new Signal<this, number>(this);
  private _openNotebookRequested = new Signal<this, CheckList.INotebookRequest>(this);
}

export namespace CheckList {
  /** A notebook (as the API names it) of check `id`. */
  export interface INotebookRequest {
    id: number;
    path: string;
  }
}

/**
 * One check in the list. Plain DOM, updated in place.
 */
class CheckEntry {
  constructor(
    readonly id: number,
    onOpen: (id: number) => void,
    onCancel: (id: number) => void,
    onOpenNotebook: (id: number, path: string) => void
  ) {
    this._onOpenNotebook = onOpenNotebook;
    const li = (this.node = document.createElement('li'));
    li.className = 'jp-nbrepro-check';
    li.dataset.checkId = String(id);

    // The clickable part: opens the report.
    const main = (this._main = document.createElement('div'));
    main.className = 'jp-nbrepro-check-main';
    main.setAttribute('role', 'button');
    main.tabIndex = 0;
    main.addEventListener('click', () => onOpen(id));
    main.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        onOpen(id);
      }
    });

    const row1 = document.createElement('div');
    row1.className = 'jp-nbrepro-check-row';
    this._icon = document.createElement('span');
    this._icon.className = 'jp-nbrepro-check-icon';
    const source = (this._source = document.createElement('span'));
    source.className = 'jp-nbrepro-check-source';
    this._name = document.createElement('span');
    this._name.className = 'jp-nbrepro-check-name';
    this._dir = document.createElement('span');
    this._dir.className = 'jp-nbrepro-check-dir';
    source.append(this._name, this._dir);
    this._time = document.createElement('span');
    this._time.className = 'jp-nbrepro-check-time';
    row1.append(this._icon, source, this._time);

    const row2 = document.createElement('div');
    row2.className = 'jp-nbrepro-check-row';
    this._badge = document.createElement('span');
    this._badge.className = 'jp-nbrepro-badge';
    this._detail = document.createElement('span');
    this._detail.className = 'jp-nbrepro-check-detail';
    row2.append(this._badge, this._detail);

    this._progress = document.createElement('progress');
    this._progress.className = 'jp-nbrepro-progress';
    this._progress.max = 1;

    this._error = document.createElement('div');
    this._error.className = 'jp-nbrepro-check-error';

    this._notebooks = document.createElement('ul');
    this._notebooks.className = 'jp-nbrepro-check-notebooks';

    main.append(row1, row2, this._progress, this._error, this._notebooks);

    // Cancel, while queued or running.
    const cancel = (this._cancel = document.createElement('button'));
    cancel.className = 'jp-nbrepro-cancel jp-Button jp-mod-minimal jp-mod-styled';
    cancel.type = 'button';
    cancel.title = 'Cancel this check';
    cancel.setAttribute('aria-label', `Cancel check ${id}`);
    stopIcon.element({ container: cancel, tag: 'span', elementPosition: 'center' });
    cancel.addEventListener('click', event => {
      event.stopPropagation();
      cancel.disabled = true;
      onCancel(id);
    });

    li.append(main, cancel);
  }

  readonly node: HTMLLIElement;

  setSelected(selected: boolean): void {
    this.node.classList.toggle('jp-mod-selected', selected);
    this._main.setAttribute('aria-current', selected ? 'true' : 'false');
  }

  update(check: ICheckSummary): void {
    const active = isActive(check.state);
    const li = this.node;
    li.dataset.state = check.state;
    li.dataset.verdict = check.verdict ?? '';
    li.dataset.source = check.source;
    li.dataset.path = check.path ?? '';

    // Source: a notebook or a folder.
    const isNotebook = check.source.endsWith('.ipynb');
    const icon: LabIcon = isNotebook ? notebookIcon : folderIcon;
    if (this._iconName !== icon.name) {
      this._icon.replaceChildren();
      icon.element({ container: this._icon, tag: 'span', elementPosition: 'center' });
      this._iconName = icon.name;
    }
    this._name.textContent = checkName(check);
    const dir = dirname(check.source);
    this._dir.textContent = dir;
    this._dir.hidden = dir === '';
    this._source.title = check.source || '(server root)';

    // Badge: verdict once finished, else state.
    const label = badgeLabel(check);
    this._badge.textContent = label;
    this._badge.dataset.state = check.state;
    this._badge.dataset.verdict = check.verdict ?? '';
    this._badge.title =
      check.state === 'finished' && check.verdict
        ? VERDICT_DESCRIPTIONS[check.verdict]
        : label;

    // Detail line.
    if (active) {
      this._detail.textContent = describeProgress(check);
    } else {
      const n = check.notebooks?.length ?? 0;
      const parts: string[] = [];
      if (n > 0) {
        parts.push(n === 1 ? '1 notebook' : `${n} notebooks`);
      }
      if (check.finished_at) {
        parts.push(Time.formatHuman(check.finished_at));
      } else if (check.created_at) {
        parts.push(Time.formatHuman(check.created_at));
      }
      this._detail.textContent = parts.join(' · ');
    }
    this._detail.title = this._detail.textContent ?? '';

    // Progress bar: determinate while executing, indeterminate otherwise.
    this._progress.hidden = !active;
    if (active) {
      const fraction = progressFraction(check.stage, check.progress);
      if (fraction === null) {
        this._progress.removeAttribute('value');
      } else {
        this._progress.value = fraction;
      }
      this._progress.setAttribute('aria-label', describeProgress(check));
    }

    // Error message of a check that could not run.
    // (a cancelled check says so on its badge only)
    const error = checkError(check);
    this._error.hidden = !error;
    this._error.textContent = error ?? '';

    // Per-notebook verdicts of a folder check.
    const notebooks = check.notebooks ?? [];
    const showNotebooks = !isNotebook && notebooks.length > 0;
    this._notebooks.hidden = !showNotebooks;
    if (showNotebooks) {
      const key = JSON.stringify(notebooks);
      if (key !== this._notebooksKey) {
        this._notebooksKey = key;
        this._notebooks.replaceChildren(
          ...notebooks.map(nb => {
            const item = document.createElement('li');
            item.className = 'jp-nbrepro-check-notebook';
            item.dataset.verdict = nb.verdict ?? '';
            const dot = document.createElement('span');
            dot.className = 'jp-nbrepro-dot';
            dot.dataset.verdict = nb.verdict ?? '';
            const name = document.createElement('span');
            name.className = 'jp-nbrepro-check-notebook-path';
            name.textContent = nb.path;
            item.title = `${nb.path}: ${nb.verdict ? VERDICT_LABELS[nb.verdict] : 'pending'}`;
            item.append(dot, name);
            // Opens the report at this notebook's section (not at its top).
            item.dataset.path = nb.path;
            item.tabIndex = 0;
            item.setAttribute('role', 'link');
            item.setAttribute('aria-label', `Open the report of check ${this.id} at ${nb.path}`);
            const open = (event: Event): void => {
              event.stopPropagation();
              this._onOpenNotebook(this.id, nb.path);
            };
            item.addEventListener('click', open);
            item.addEventListener('keydown', event => {
              if (event.key === 'Enter' || event.key === ' ') {
                event.preventDefault();
                open(event);
              }
            });
            return item;
          })
        );
      }
    }

    this._cancel.hidden = !active;
    if (!active) {
      this._cancel.disabled = false;
    }
    this._main.setAttribute(
      'aria-label',
      `Check ${check.id} of ${check.source || 'the server root'}: ${label}. Open report.`
    );
    this.updateTime(check);
  }

  /** Elapsed or total duration. */
  updateTime(check: ICheckSummary): void {
    const seconds = checkDuration(check);
    this._time.textContent = seconds === null ? '' : formatSeconds(seconds);
    this._time.title =
      seconds === null ? '' : isActive(check.state) ? 'Elapsed' : 'Duration';
  }

  private _main: HTMLDivElement;
  private _icon: HTMLSpanElement;
  private _iconName = '';
  private _source: HTMLSpanElement;
  private _name: HTMLSpanElement;
  private _dir: HTMLSpanElement;
  private _time: HTMLSpanElement;
  private _badge: HTMLSpanElement;
  private _detail: HTMLSpanElement;
  private _progress: HTMLProgressElement;
  private _error: HTMLDivElement;
  private _notebooks: HTMLUListElement;
  private _notebooksKey = '';
  private _cancel: HTMLButtonElement;
  private _onOpenNotebook: (id: number, path: string) => void;
}
