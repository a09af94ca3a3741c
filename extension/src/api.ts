/**
 * Typed client for the nbrepro server extension's REST API.
 *
 * Every endpoint lives under `<base_url>/nbrepro/api/`. Requests go through
 * `ServerConnection.makeRequest`, which adds the token and XSRF headers.
 * A non-2xx answer carries `{"message": "..."}`; it is thrown as an
 * `NbreproError` so callers can show it to the user.
 */
import { URLExt } from '@jupyterlab/coreutils';
import type * as nbformat from '@jupyterlab/nbformat';
import { ServerConnection } from '@jupyterlab/services';

/** Where the API is mounted, relative to the server's base URL. */
export const API_NAMESPACE = 'nbrepro/api';

/** Lifecycle of a check job. */
export type CheckState =
  | 'queued'
  | 'running'
  | 'finished'
  | 'cancelled'
  | 'interrupted'
  | 'error';

/** Pipeline stage a running check is in (docs/architecture.md, *The pipeline*). */
export type Stage = 'scan' | 'spec' | 'resolve' | 'build' | 'execute' | 'compare';

/** Per-notebook (and per-repository) verdict (README, *Verdicts*). */
export type Verdict =
  | 'reproduced'
  | 'reproduced-equivalent'
  | 'differs'
  | 'failed'
  | 'timeout'
  | 'kernel-died'
  | 'install-failed'
  | 'not-checked';

/** Per-cell comparison status (README, *Verdicts*). */
export type CellStatus =
  | 'identical'
  | 'equivalent'
  | 'different'
  | 'missing-output'
  | 'extra-output'
  | 'volatile'
  | 'error'
  | 'not-run';

/** Where a running check is: which notebook, which cell. */
export interface IProgress {
  notebook?: string | null;
  notebook_index?: number | null;
  notebooks?: number | null;
  cell?: number | null;
  cells?: number | null;
}

/** A notebook's verdict as listed in a check summary. */
export interface INotebookVerdict {
  /** Relative to the server root (relative to its repository when that is elsewhere). */
  path: string;
  /** Relative to the checked repository, as the result names it. */
  repository_path?: string;
  verdict: Verdict | null;
}

/** Per-check options a request may set (bounded by the server's settings). */
export interface ICheckOptions {
  cell_timeout?: number;
  notebook_timeout?: number;
  twice?: boolean;
  keep_going?: boolean;
  backend?: string;
  /** Resolve as of this date (YYYY-MM-DD). */
  exclude_newer?: string;
}

/** One entry of `GET checks`. */
export interface ICheckSummary {
  id: number;
  /** What was given to check: a path or a URL (for display). */
  source: string;
  /** What was checked, relative to the server root; null when it is not under it. */
  path: string | null;
  /** The checked repository's folder, relative to the server root (or null). */
  root: string | null;
  /** What a report is titled with: the folder's (the repository's) or the notebook's
   * name, the server root's own name for a check of the root; a URL as given. */
  name?: string;
  options?: ICheckOptions;
  state: CheckState;
  stage: Stage | null;
  progress: IProgress | null;
  verdict: Verdict | null;
  error: string | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  notebooks: INotebookVerdict[];
}

/** The comparison result for one code cell. */
export interface ICellResult {
  index: number;
  status: CellStatus;
  reason: string | null;
  detail: string | null;
  execution_seconds: number | null;
  /** Every normaliser a match needed (equivalent cells). */
  normalisers?: string[];
  /** New DeprecationWarnings/FutureWarnings in the re-run output. */
  warnings?: string[];
  /** Lowest similarity (0..1) of a changed image in the cell. */
  image_score?: number | null;
  /** Base64 PNG showing where a changed image differs. */
  image_diff?: string | null;
  /** For volatile cells: a sanitiser that would make the output stable. */
  suggested_sanitiser?: string | null;
  /** The stored `In [n]` a user sees in the notebook. */
  execution_count?: number | null;
}

/** What can explain a notebook's changed cells (a fixed vocabulary). */
export type CauseKind =
  | 'unseeded-random'
  | 'needs-network'
  | 'earlier-rewrite'
  | 'library-repr'
  | 'volatile';

/** One root cause of a notebook's changes, with the cells (indices) it explains. */
export interface IRootCause {
  kind: CauseKind;
  /** May quote the repository (file names, calls): shown as text only. */
  summary: string;
  cells: number[];
}

/** The result for one notebook. */
export interface INotebookResult {
  path: string;
  verdict: Verdict;
  reason: string | null;
  exception: string | null;
  message: string | null;
  failing_cell: number | null;
  seconds: number | null;
  cells: ICellResult[];
  /** Each root cause once (absent from results stored before causes were recorded). */
  causes?: IRootCause[];
}

/** What the build stage reports about the environment (subset the UI shows). */
export interface IEnvironment {
  ok?: boolean;
  backend?: string;
  python_version?: string | null;
  /** The Python version the repository asked for (null: nothing asked). */
  requested_python?: string | null;
  sandbox?: string;
  network?: boolean;
  cached?: boolean;
  seconds?: number;
  failed_requirement?: string | null;
  message?: string | null;
  log?: string;
  [key: string]: unknown;
}

/** The resolve stage's lock (subset the UI shows). */
export interface ILock {
  ok?: boolean;
  resolver?: string;
  python_version?: string;
  text?: string;
  failed_requirement?: string | null;
  message?: string | null;
  [key: string]: unknown;
}

/** What the repository declares about its environment (subset the UI shows). */
export interface ISpec {
  /** Dependency files read, relative to the repository's root. */
  files?: string[];
  /** Imports no dependency file declares. */
  undeclared_imports?: string[];
  [key: string]: unknown;
}

/** The full result of a finished check (the `nbrepro check --json` shape). */
export interface ICheckResult {
  repository: {
    source: string;
    commit: string | null;
    path?: string | null;
    /** The folder checked inside the repository, when not its root. */
    subdir?: string | null;
  };
  spec?: ISpec | null;
  verdict: Verdict | null;
  summary: Partial<Record<Verdict, number>>;
  environment: IEnvironment | null;
  lock?: ILock | null;
  notebooks: INotebookResult[];
  started_at?: string | null;
  seconds?: number;
  nbrepro_version?: string;
}

/** `GET checks/{id}`: the summary plus the result once there is one. */
export interface ICheckDetail extends ICheckSummary {
  result: ICheckResult | null;
}

/** `GET checks/{id}/notebooks?path=`: both notebooks and the check's nbdime diff. */
export interface INotebookPair {
  stored: nbformat.INotebookContent | null;
  rerun: nbformat.INotebookContent | null;
  /** nbdime diff of the whole notebook (nbdime diff_format). */
  diff: unknown;
}

/** `GET repository?path=`: the git repository around a folder or a notebook. */
export interface IRepository {
  /** Its folder, relative to the server root ("." for the root itself). */
  path: string;
  /** What its checks are titled with: its folder's name. */
  name: string;
  /** False when no repository holds the path: the server root stands in for it. */
  found: boolean;
}

/** An error answered by the server extension, or a network failure. */
export class NbreproError extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
    /** True when the server extension itself did not answer (not installed or not enabled). */
    readonly missingExtension = false
  ) {
    super(message);
    this.name = 'NbreproError';
  }
}

/** States in which a check may still change. */
export function isActive(state: CheckState): boolean {
  return state === 'queued' || state === 'running';
}

/**
 * A client for one Jupyter server. Stateless; create one per application.
 */
export class NbreproClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /** `GET checks`: every check, newest first. */
  async listChecks(): Promise<ICheckSummary[]> {
    const data = await this._request<{ checks: ICheckSummary[] }>('checks');
    return data.checks;
  }

  /** `GET checks/{id}`: one check with its full result. */
  getCheck(id: number): Promise<ICheckDetail> {
    return this._request<ICheckDetail>(`checks/${id}`);
  }

  /** `POST checks`: start checking a notebook or a folder (relative to the server root). */
  startCheck(path: string, options: ICheckOptions = {}): Promise<ICheckSummary> {
    return this._request<ICheckSummary>('checks', {
      method: 'POST',
      body: JSON.stringify({ ...options, path })
    });
  }

  /** `GET repository?path=`: the repository around `path` (relative to the server root). */
  getRepository(path: string): Promise<IRepository> {
    return this._request<IRepository>(
      `repository${URLExt.objectToQueryString({ path })}`
    );
  }

  /** `DELETE checks/{id}`: cancel a queued or running check. */
  cancelCheck(id: number): Promise<{ id: number; state: CheckState }> {
    return this._request(`checks/${id}`, { method: 'DELETE' });
  }

  /**
   * `GET checks/{id}/notebooks?path=`: stored and re-run notebook, and the diff
   * the check recorded. `path` as the API names the notebook (`INotebookVerdict.path`).
   */
  getNotebooks(id: number, path: string): Promise<INotebookPair> {
    return this._request<INotebookPair>(
      `checks/${id}/notebooks${URLExt.objectToQueryString({ path })}`
    );
  }

  /** URL of the HTML report of a check (for a link opening a new tab). */
  reportUrl(id: number): string {
    return this._url(`checks/${id}/report`);
  }

  /** URL of the SVG badge for a path. */
  badgeUrl(path: string): string {
    return this._url(`badge${URLExt.objectToQueryString({ path })}`);
  }

  /** The shields.io endpoint (JSON) of the badge of `path`. */
  badgeEndpointUrl(path: string): string {
    return this._url(`badge${URLExt.objectToQueryString({ path, format: 'json' })}`);
  }

  /** The full results of a check, as JSON. */
  checkUrl(id: number): string {
    return this._url(`checks/${id}`);
  }

  private _url(endpoint: string): string {
    return URLExt.join(this.serverSettings.baseUrl, API_NAMESPACE, endpoint);
  }

  private async _request<T>(endpoint: string, init: RequestInit = {}): Promise<T> {
    const url = this._url(endpoint);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.serverSettings);
    } catch (error) {
      throw new NbreproError(
        `Cannot reach the Jupyter server: ${(error as Error).message ?? String(error)}`
      );
    }
    const text = await response.text();
    let data: unknown = null;
    if (text.length > 0) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const message = serverMessage(data);
      if (message !== null) {
        throw new NbreproError(message, response.status);
      }
      if (response.status === 404) {
        throw new NbreproError(
          'The nbrepro server extension did not answer (404). Is it installed and ' +
            'enabled? See `jupyter server extension list`.',
          404,
          true
        );
      }
      throw new NbreproError(
        `Request failed: ${response.status} ${response.statusText}`,
        response.status
      );
    }
    return data as T;
  }
}

function serverMessage(data: unknown): string | null {
  if (data !== null && typeof data === 'object' && 'message' in data) {
    const message = (data as { message: unknown }).message;
    if (typeof message === 'string' && message.length > 0) {
      return message;
    }
  }
  return null;
}
