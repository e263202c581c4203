import { StraitError, type ErrorCategory } from "../core/errors.ts";

/**
 * Exit codes scripts can rely on (documented in `strait --help`).
 * - 0: success (for `diff`: no changes)
 * - 1: the command failed: the server refused it, validation or analysis found errors, `diff` found changes
 * - 2: usage error: unknown command or flag, bad flag value, missing file
 * - 3: cannot reach the control plane, or it refused our credentials (401/403)
 */
export const ExitCode = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The command line itself is wrong (flag value, argument, missing file). Exit 2. */
export class UsageError extends StraitError {
  readonly code: string = "ERR_CLI_USAGE";
  readonly category: ErrorCategory = "invalid";
}

/** One entry of a server's `error.details` list. */
export interface ErrorDetail {
  path: string;
  message: string;
}

const CATEGORY_BY_STATUS: Record<number, ErrorCategory> = {
  400: "invalid",
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "too_large",
  415: "unsupported_media",
};

/** The control plane answered with an error body `{"error": {code, message, field?, details?}}`. */
export class ServerError extends StraitError {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly status: number;
  readonly details: ErrorDetail[];

  constructor(status: number, body: { code: string; message: string; field?: string; details?: ErrorDetail[] }) {
    super(body.message, body.field === undefined ? undefined : { field: body.field });
    this.status = status;
    this.code = body.code;
    this.category = CATEGORY_BY_STATUS[status] ?? (status >= 500 ? "unavailable" : "invalid");
    this.details = body.details ?? [];
  }
}

/** The control plane could not be reached (connection refused, DNS, timeout). Exit 3. */
export class ServerUnreachableError extends StraitError {
  readonly code: string = "ERR_CLI_UNREACHABLE";
  readonly category: ErrorCategory = "unavailable";
}

/** Maps any error thrown by a command to the exit code scripts can trust. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof UsageError) return ExitCode.usage;
  if (err instanceof ServerUnreachableError) return ExitCode.unreachable;
  if (err instanceof ServerError && (err.status === 401 || err.status === 403)) return ExitCode.unreachable;
  return ExitCode.failed;
}
