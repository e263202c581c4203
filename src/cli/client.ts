import { ServerError, ServerUnreachableError, UsageError, type ErrorDetail } from "./cli-errors.ts";
import { isRecord } from "./response-shape.ts";

export const DEFAULT_SERVER = "http://127.0.0.1:8787";

export interface ClientOptions {
  /** Base URL of the control plane, e.g. `http://127.0.0.1:8787` (a path prefix is kept). */
  server: string;
  /** Bearer token: the admin token, a scoped API token or a node JWT-SVID. */
  token?: string | undefined;
  /** Per-request timeout; a request that takes longer counts as "cannot reach the server". */
  timeoutMs?: number;
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent verbatim with `contentType`. */
  text?: string;
  contentType?: string;
}

/**
 * HTTP client of the control API. Every non-2xx answer becomes a `ServerError`
 * carrying the server's `{error: {code, message, field, details}}`; a network
 * failure becomes a `ServerUnreachableError`.
 *
 * @example
 * const client = new ControlClient({ server: "http://127.0.0.1:8787", token });
 * const list = await client.request("GET", "/v1/revisions");
 */
export class ControlClient {
  readonly server: URL;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(o: ClientOptions) {
    let url: URL;
    try {
      url = new URL(o.server);
    } catch {
      throw new UsageError(`--server: not a URL: ${JSON.stringify(o.server)}`, { field: "--server" });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new UsageError(`--server: must be an http:// or https:// URL, got ${JSON.stringify(o.server)}`, { field: "--server" });
    }
    this.server = url;
    this.token = o.token === undefined || o.token === "" ? undefined : o.token;
    this.timeoutMs = o.timeoutMs ?? 60_000;
  }

  /** Full URL of an API path, keeping any path prefix of `--server`. */
  url(path: string, query?: Record<string, string | undefined>): URL {
    const base = this.server.pathname.replace(/\/+$/, "");
    const url = new URL(this.server.href);
    url.pathname = base + path;
    url.search = "";
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    return url;
  }

  /** Sends one request and returns the parsed JSON body (`undefined` for an empty body). */
  async request(method: string, path: string, o: RequestOptions = {}): Promise<unknown> {
    const headers = new Headers({ accept: "application/json" });
    if (this.token !== undefined) headers.set("authorization", `Bearer ${this.token}`);
    let body: string | undefined;
    if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      headers.set("content-type", "application/json");
    } else if (o.text !== undefined) {
      body = o.text;
      headers.set("content-type", o.contentType ?? "text/plain");
    }
    const url = this.url(path, o.query);
    let res: Response;
    let raw: string;
    try {
      // The timeout covers reading the body too: a server that stalls mid-answer is as good as unreachable.
      res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      raw = await res.text();
    } catch (err) {
      throw new ServerUnreachableError(`cannot reach the control plane at ${this.server.origin}: ${describeNetworkError(err)}`, { cause: err });
    }
    const parsed = parseJson(raw);
    if (res.ok) {
      if (raw !== "" && parsed === undefined) {
        throw new ServerError(res.status, { code: "ERR_BAD_RESPONSE", message: `${method} ${url.pathname}: the server answered ${res.status} with a body that is not JSON` });
      }
      return parsed;
    }
    throw new ServerError(res.status, errorBody(res, parsed, raw));
  }
}

function parseJson(raw: string): unknown {
  if (raw === "") return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

function errorBody(res: Response, parsed: unknown, raw: string): { code: string; message: string; field?: string; details?: ErrorDetail[] } {
  const error = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : undefined;
  if (error !== undefined && typeof error.message === "string") {
    const details = Array.isArray(error.details)
      ? error.details.filter(isRecord).map((d) => ({ path: String(d.path ?? ""), message: String(d.message ?? "") }))
      : undefined;
    return {
      code: typeof error.code === "string" ? error.code : `HTTP_${res.status}`,
      message: error.message,
      ...(typeof error.field === "string" ? { field: error.field } : {}),
      ...(details === undefined ? {} : { details }),
    };
  }
  const snippet = raw.trim().slice(0, 200);
  return { code: `HTTP_${res.status}`, message: `${res.status} ${res.statusText}${snippet === "" ? "" : `: ${snippet}`}` };
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error && err.name === "TimeoutError") return "the request timed out";
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause !== undefined && typeof cause.code === "string") return typeof cause.message === "string" ? cause.message : cause.code;
  return err instanceof Error ? err.message : String(err);
}
