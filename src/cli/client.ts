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
  /** Where `server` came from, as the user wrote it: `--server`, `STRAIT_SERVER` or the default; errors name it. */
  serverSetting?: ServerSetting;
}

/** The setting that chose the control plane URL. */
export type ServerSetting = "--server" | "STRAIT_SERVER" | "default";

/** `STRAIT_SERVER`, `--server`, or `the default` (for messages). */
export function settingLabel(s: ServerSetting): string {
  return s === "default" ? "the default" : s;
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
  private readonly serverSetting: ServerSetting;

  constructor(o: ClientOptions) {
    this.serverSetting = o.serverSetting ?? "--server";
    const setting = this.serverSetting === "default" ? "--server" : this.serverSetting;
    let url: URL;
    try {
      url = new URL(o.server);
    } catch {
      throw new UsageError(`${setting}: not a URL: ${JSON.stringify(o.server)}`, { field: setting });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new UsageError(`${setting}: must be an http:// or https:// URL, got ${JSON.stringify(o.server)}`, { field: setting });
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
      throw new ServerUnreachableError(this.unreachableMessage(err), { cause: err });
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

  /** What failed, which URL from which setting, and how to fix it. */
  private unreachableMessage(err: unknown): string {
    const where = `${this.server.href.replace(/\/$/, "")} (from ${settingLabel(this.serverSetting)})`;
    const timedOut = err instanceof Error && err.name === "TimeoutError";
    const reason = timedOut ? `no answer within ${this.timeoutMs / 1000}s (--request-timeout)` : describeNetworkError(err);
    const lines = [`cannot reach the control plane at ${where}: ${reason}`];
    if (timedOut) {
      lines.push("  - a long operation may need a longer --request-timeout, e.g. --request-timeout=5m");
    } else {
      lines.push(`  - is the control plane running? \`npm start\` in the Strait clone starts one on ${DEFAULT_SERVER}`);
    }
    lines.push(
      this.serverSetting === "STRAIT_SERVER"
        ? `  - check STRAIT_SERVER (now ${JSON.stringify(this.server.href)}); unset it for ${DEFAULT_SERVER}, or pass --server`
        : this.serverSetting === "--server"
          ? `  - check --server (now ${JSON.stringify(this.server.href)})`
          : "  - a control plane elsewhere: set STRAIT_SERVER or pass --server",
    );
    return lines.join("\n");
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
  // fetch refuses some ports outright (the Fetch standard's "bad port" list, e.g. 1, 6000).
  if (cause !== undefined && typeof cause.message === "string") return `${err instanceof Error ? err.message : "fetch failed"}: ${cause.message}`;
  return err instanceof Error ? err.message : String(err);
}
