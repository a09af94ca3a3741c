/**
 * Words, descriptions and formatting shared by the panel and the report view.
 *
 * Colours are not chosen here: every chip carries `data-verdict`,
 * `data-state` or `data-status`, and style/base.css maps those to
 * JupyterLab's theme variables.
 */
import type {
  CellStatus,
  CheckState,
  ICheckSummary,
  IProgress,
  Stage,
  Verdict
} from './api';

/** Short human label for a notebook/repository verdict. */
export const VERDICT_LABELS: Record<Verdict, string> = {
  reproduced: 'Reproduced',
  'reproduced-equivalent': 'Reproduced (equivalent)',
  differs: 'Differs',
  failed: 'Failed',
  timeout: 'Timed out',
  'kernel-died': 'Kernel died',
  'install-failed': 'Install failed',
  'not-checked': 'Not checked'
};

/** One sentence saying what a verdict means (tooltips). */
export const VERDICT_DESCRIPTIONS: Record<Verdict, string> = {
  reproduced: 'Ran without error; every output is identical to the stored one.',
  'reproduced-equivalent':
    'Ran without error; every output is identical or equivalent after normalisation.',
  differs: 'Ran without error, but at least one output is different.',
  failed: 'An exception was raised while running.',
  timeout: 'The run did not finish within the time limit.',
  'kernel-died': 'The kernel died during the run.',
  'install-failed': 'The environment could not be resolved or built.',
  'not-checked': 'Nothing to compare, or the notebook is not runnable.'
};

/** Verdict order, best first (mirrors nbrepro.model severity). */
export const VERDICT_ORDER: Verdict[] = [
  'reproduced',
  'reproduced-equivalent',
  'not-checked',
  'differs',
  'failed',
  'timeout',
  'kernel-died',
  'install-failed'
];

export const CELL_STATUS_LABELS: Record<CellStatus, string> = {
  identical: 'identical',
  equivalent: 'equivalent',
  different: 'different',
  'missing-output': 'missing output',
  'extra-output': 'extra output',
  volatile: 'volatile',
  error: 'error',
  'not-run': 'not run'
};

export const CELL_STATUS_DESCRIPTIONS: Record<CellStatus, string> = {
  identical: 'The re-run output is identical to the stored output.',
  equivalent: 'The outputs are equal after a named normaliser.',
  different: 'The re-run output differs from the stored output.',
  'missing-output': 'The stored notebook has an output the re-run did not produce.',
  'extra-output': 'The re-run produced an output the stored notebook does not have.',
  volatile: 'The output differs between two runs in the same environment.',
  error: 'The cell raised an exception.',
  'not-run': 'The cell was not run (an earlier cell failed or the run stopped).'
};

/** A verdict that counts as reproduced (as nbrepro.model.Verdict.ok). */
export function isGoodVerdict(verdict: Verdict): boolean {
  return verdict === 'reproduced' || verdict === 'reproduced-equivalent';
}

/** A notebook's verdict as a chip (its label, and its description as a tooltip). */
export function verdictBadge(verdict: Verdict): HTMLSpanElement {
  const badge = document.createElement('span');
  badge.className = 'jp-nbrepro-badge';
  badge.dataset.state = 'finished';
  badge.dataset.verdict = verdict;
  badge.textContent = VERDICT_LABELS[verdict] ?? verdict;
  badge.title = VERDICT_DESCRIPTIONS[verdict] ?? '';
  return badge;
}

/**
 * Cell statuses that count as reproduced (as nbrepro.model.CellResult does):
 * a volatile cell differs between two runs in the same environment, so its
 * difference says nothing about reproducibility.
 */
export function isGoodStatus(status: CellStatus): boolean {
  return status === 'identical' || status === 'equivalent' || status === 'volatile';
}

export const STATE_LABELS: Record<CheckState, string> = {
  queued: 'Queued',
  running: 'Running',
  finished: 'Finished',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
  error: 'Error'
};

export const STAGE_LABELS: Record<Stage, string> = {
  scan: 'Finding notebooks',
  spec: 'Reading dependencies',
  resolve: 'Resolving versions',
  build: 'Building environment',
  execute: 'Running',
  compare: 'Comparing outputs'
};

/** The word shown on a check's badge: its verdict once finished, else its state. */
export function badgeLabel(check: Pick<ICheckSummary, 'state' | 'verdict'>): string {
  if (check.state === 'finished' && check.verdict) {
    return VERDICT_LABELS[check.verdict] ?? check.verdict;
  }
  return STATE_LABELS[check.state] ?? check.state;
}

/** What a check is titled with: the last part of its source (the repository's,
 * folder's or notebook's name); for the server root, the name the server gives it. */
export function checkName(check: Pick<ICheckSummary, 'source' | 'name'>): string {
  const root = check.source.replace(/\/+$/, '') === '' || check.source === '.';
  return root && check.name ? check.name : basename(check.source);
}

/** A check's error, unless it only repeats its badge ("Cancelled" / "cancelled"). */
export function checkError(
  check: Pick<ICheckSummary, 'state' | 'verdict' | 'error'>
): string | null {
  const error = check.error?.trim();
  if (!error || error.toLowerCase() === badgeLabel(check).toLowerCase()) {
    return null;
  }
  return error;
}

/** Last path component ("" and "." name the server root). */
export function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '.') {
    return '(server root)';
  }
  const parts = trimmed.split('/');
  return parts[parts.length - 1];
}

/** Folder part of a path, or "" at the top. */
export function dirname(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const i = trimmed.lastIndexOf('/');
  return i < 0 ? '' : trimmed.slice(0, i);
}

/** "850 ms", "12.3 s", "4 min 05 s", "1 h 02 min". */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  }
  const total = Math.round(seconds);
  if (total < 3600) {
    const m = Math.floor(total / 60);
    const s = total % 60;
    return `${m} min ${String(s).padStart(2, '0')} s`;
  }
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  return `${h} h ${String(m).padStart(2, '0')} min`;
}

function parseTime(value: string | null): number | null {
  if (!value) {
    return null;
  }
  const t = Date.parse(value);
  return isNaN(t) ? null : t;
}

/** Seconds a check has taken so far (running) or took (finished). */
export function checkDuration(check: ICheckSummary, now = Date.now()): number | null {
  const start = parseTime(check.started_at);
  if (start === null) {
    return null;
  }
  const end = parseTime(check.finished_at) ?? now;
  return Math.max(0, (end - start) / 1000);
}

/** Overall fraction done (0..1) while executing, or null when unknown. */
export function progressFraction(
  stage: Stage | null,
  progress: IProgress | null
): number | null {
  if (!progress || stage !== 'execute') {
    return null;
  }
  const notebooks = progress.notebooks ?? 0;
  const index = progress.notebook_index ?? 0;
  const cells = progress.cells ?? 0;
  const cell = progress.cell ?? 0;
  if (notebooks <= 0) {
    return null;
  }
  const within = cells > 0 ? Math.min(cell, cells) / cells : 0;
  return Math.min(1, (index + within) / notebooks);
}

/** "Running · a.ipynb (1/2) · cell 3/10" for a queued or running check. */
export function describeProgress(check: ICheckSummary): string {
  if (check.state === 'queued') {
    return 'Waiting to start';
  }
  const parts: string[] = [];
  parts.push(check.stage ? (STAGE_LABELS[check.stage] ?? check.stage) : 'Starting');
  const p = check.progress;
  // The notebook's name, unless the check is of that one notebook.
  if (p?.notebook && basename(p.notebook) !== basename(check.source)) {
    const count =
      p.notebooks && p.notebooks > 1 ? ` (${(p.notebook_index ?? 0) + 1}/${p.notebooks})` : '';
    parts.push(`${basename(p.notebook)}${count}`);
  }
  if (p && p.cells !== null && p.cells !== undefined && p.cell !== null && p.cell !== undefined) {
    parts.push(`cell ${p.cell}/${p.cells}`);
  }
  return parts.join(' · ');
}

/**
 * The Markdown of a path's badge linking to a check's HTML report, as a README or
 * a notebook's Markdown cell embeds it. Brackets and parentheses in the URLs are
 * escaped so that a path holding them cannot end the link early.
 */
export function badgeMarkdown(badgeUrl: string, reportUrl: string): string {
  const safe = (url: string): string =>
    url.replace(/[()[\]\s<>]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return `[![reproducible](${safe(badgeUrl)})](${safe(reportUrl)})`;
}
