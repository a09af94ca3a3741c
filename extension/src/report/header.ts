/**
 * The report's header: overall verdict, counts per verdict, metadata, logs and
 * the HTML report link.
 */
import { Time } from '@jupyterlab/coreutils';
import { launchIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import {
  type ICheckDetail,
  type ICheckSummary,
  isActive,
  type NbreproClient,
  type Verdict
} from '../api';
import {
  badgeLabel,
  checkDuration,
  checkError,
  checkName,
  describeProgress,
  formatSeconds,
  progressFraction,
  VERDICT_DESCRIPTIONS,
  VERDICT_LABELS,
  VERDICT_ORDER
} from '../verdicts';
import { collapsible } from './dom';

/**
 * Overall verdict, summary counts, metadata and the HTML report link.
 */
export class ReportHeader extends Widget {
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
    // titled with the repository's (folder's, notebook's) name; the path on hover
    this._heading.textContent = checkName(detail);
    this._heading.title = detail.path ?? detail.source;

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

    // (a cancelled check says so on its badge only)
    const error = checkError(detail);
    this._error.hidden = !error;
    this._error.textContent = error ?? '';

    // Metadata.
    // [term, text, warning]: a warning is marked for the eye and for tests
    const entries: [string, string, boolean?][] = [['Check', `#${detail.id}`]];
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
      if (env.python_version || env.requested_python) {
        const used = env.python_version ?? 'none';
        const asked = env.requested_python ?? null;
        const differs =
          asked !== null &&
          env.python_version !== undefined &&
          env.python_version !== null &&
          !`${env.python_version}.`.startsWith(`${asked}.`);
        const text = asked === null ? `${used} (none requested)` : `${used} (requested ${asked})`;
        entries.push(['Python', text, differs]);
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
    const spec = result?.spec ?? null;
    if (spec) {
      // where the environment came from: the repository's root and its files
      const files = spec.files?.length ? spec.files.join(', ') : 'no dependency files';
      entries.push(['Dependencies', detail.root ? `${files} (in ${detail.root}/)` : files]);
      if (spec.undeclared_imports?.length) {
        entries.push(['Not declared', spec.undeclared_imports.join(', '), true]);
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
      ...entries.flatMap(([key, value, warning]) => {
        const dt = document.createElement('dt');
        dt.textContent = key;
        const dd = document.createElement('dd');
        dd.textContent = value;
        dd.dataset.term = key.toLowerCase().replace(/\s+/g, '-');
        if (warning) {
          dd.classList.add('jp-nbrepro-meta-warning');
        }
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
