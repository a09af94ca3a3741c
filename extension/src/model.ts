/**
 * The list of checks, kept fresh by polling `GET checks`.
 *
 * Polls about once a second while a check is queued or running, every
 * fifteen seconds otherwise, backs off on errors and stands by while the
 * browser tab is hidden. The panel and the report views listen to `changed`.
 */
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  type ICheckSummary,
  isActive,
  NbreproClient,
  NbreproError
} from './api';

/** Poll intervals, in milliseconds. */
const ACTIVE_INTERVAL = 1000;
const IDLE_INTERVAL = 15000;
const MAX_BACKOFF = 60000;

export class ChecksModel implements IDisposable {
  constructor(readonly client: NbreproClient) {
    this._poll = new Poll({
      auto: false,
      factory: () => this._fetch(),
      frequency: { interval: IDLE_INTERVAL, backoff: true, max: MAX_BACKOFF },
      name: 'jupyter-nbrepro:checks',
      standby: 'when-hidden'
    });
  }

  /** Every check known to the server, newest first. */
  get checks(): readonly ICheckSummary[] {
    return this._checks;
  }

  /** The last polling error, or null after a successful poll. */
  get error(): NbreproError | null {
    return this._error;
  }

  /** Whether at least one poll has answered (successfully or not). */
  get loaded(): boolean {
    return this._loaded;
  }

  /** Emitted after every poll that changed the list or the error. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted once for each check seen to leave the queued/running states. */
  get settled(): ISignal<this, ICheckSummary> {
    return this._settled;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Start polling (idempotent). */
  start(): void {
    void this._poll.start();
  }

  /** Poll now. */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  get(id: number): ICheckSummary | undefined {
    return this._checks.find(c => c.id === id);
  }

  /** Start a check of `path`; the new check is in `checks` when this resolves. */
  async startCheck(path: string): Promise<ICheckSummary> {
    const summary = await this.client.startCheck(path);
    if (!this._checks.some(c => c.id === summary.id)) {
      this._checks = [summary, ...this._checks];
    }
    this._watched.add(summary.id);
    this._setFrequency(true);
    this._changed.emit();
    void this._poll.refresh();
    return summary;
  }

  /** Cancel a queued or running check. */
  async cancelCheck(id: number): Promise<void> {
    await this.client.cancelCheck(id);
    await this.refresh();
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    let checks: ICheckSummary[];
    try {
      checks = await this.client.listChecks();
    } catch (error) {
      const err =
        error instanceof NbreproError ? error : new NbreproError(String(error));
      const changed = this._error?.message !== err.message || !this._loaded;
      this._error = err;
      this._loaded = true;
      if (changed) {
        this._changed.emit();
      }
      // Rethrow so the poll backs off.
      throw err;
    }
    const before = JSON.stringify(this._checks);
    const hadError = this._error !== null;
    this._error = null;
    const firstLoad = !this._loaded;
    this._loaded = true;

    // Checks seen active (or started here) that are now settled.
    const settled: ICheckSummary[] = [];
    for (const check of checks) {
      if (isActive(check.state)) {
        this._watched.add(check.id);
      } else if (this._watched.has(check.id)) {
        this._watched.delete(check.id);
        if (!firstLoad) {
          settled.push(check);
        }
      }
    }
    this._checks = checks;
    this._setFrequency(checks.some(c => isActive(c.state)));
    if (firstLoad || hadError || JSON.stringify(checks) !== before) {
      this._changed.emit();
    }
    for (const check of settled) {
      this._settled.emit(check);
    }
  }

  private _setFrequency(active: boolean): void {
    const interval = active ? ACTIVE_INTERVAL : IDLE_INTERVAL;
    if (this._poll.frequency.interval !== interval) {
      this._poll.frequency = { interval, backoff: true, max: MAX_BACKOFF };
    }
  }

  private _checks: ICheckSummary[] = [];
  private _error: NbreproError | null = null;
  private _loaded = false;
  private _watched = new Set<number>();
  private _poll: Poll;
  private _changed = new Signal<this, void>(this);
  private _settled = new Signal<this, ICheckSummary>(this);
}
