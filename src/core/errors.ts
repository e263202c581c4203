/**
 * Error taxonomy shared by every Strait component.
 *
 * Every error has a stable machine-readable `code` and a `category`. The HTTP
 * status for a category is decided in exactly one place
 * (`src/control/http-errors.ts`); core code never knows about HTTP.
 * Caller misuse (a bug in our own code) throws `TypeError` instead.
 */
export type ErrorCategory =
  | "invalid" // the client's input is wrong (400)
  | "unauthenticated" // no or bad credentials (401)
  | "forbidden" // credentials fine, not allowed (403)
  | "not_found" // 404
  | "conflict" // stale resourceVersion, already exists (409)
  | "too_large" // body over the limit (413)
  | "unsupported_media" // content type we cannot parse (415)
  | "unavailable"; // a dependency is not ready, e.g. no CA configured (503)

export abstract class StraitError extends Error {
  abstract readonly code: string;
  abstract readonly category: ErrorCategory;
  /** Field path the error concerns, e.g. `spec.http[0].route[1].weight`. */
  readonly field: string | undefined;

  constructor(message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.field = options?.field;
  }

  toJSON(): { code: string; message: string; field?: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

/** Input failed validation; `field` names the offending path. */
export class ValidationError extends StraitError {
  readonly code: string = "ERR_VALIDATION";
  readonly category: ErrorCategory = "invalid";
}

export class NotFoundError extends StraitError {
  readonly code: string = "ERR_NOT_FOUND";
  readonly category: ErrorCategory = "not_found";
}

export class ConflictError extends StraitError {
  readonly code: string = "ERR_CONFLICT";
  readonly category: ErrorCategory = "conflict";
}

export class UnauthenticatedError extends StraitError {
  readonly code: string = "ERR_UNAUTHENTICATED";
  readonly category: ErrorCategory = "unauthenticated";
}

export class ForbiddenError extends StraitError {
  readonly code: string = "ERR_FORBIDDEN";
  readonly category: ErrorCategory = "forbidden";
}

export class PayloadTooLargeError extends StraitError {
  readonly code: string = "ERR_PAYLOAD_TOO_LARGE";
  readonly category: ErrorCategory = "too_large";
}

export class UnsupportedMediaTypeError extends StraitError {
  readonly code: string = "ERR_UNSUPPORTED_MEDIA_TYPE";
  readonly category: ErrorCategory = "unsupported_media";
}

export class UnavailableError extends StraitError {
  readonly code: string = "ERR_UNAVAILABLE";
  readonly category: ErrorCategory = "unavailable";
}
