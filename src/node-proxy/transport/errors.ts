/** HBONE transport errors, each with a stable `code`. */
import { StraitError, type ErrorCategory } from "../../core/errors.ts";

export type HboneFailure =
  /** The source identity has no valid SVID on this node (fail closed). */
  | "no-identity"
  /** The peer's certificate was refused (see `cause`, a PeerVerificationError). */
  | "peer-refused"
  /** TCP/TLS/HTTP2 failure before a stream was open. */
  | "connect-failed"
  /** The peer answered the CONNECT with a non-200 status (`status`). */
  | "rejected"
  /** The stream failed or was reset before the answer. */
  | "stream-failed"
  | "aborted";

export class HboneError extends StraitError {
  readonly category: ErrorCategory = "unavailable";
  readonly code: string;
  constructor(
    readonly failure: HboneFailure,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = `ERR_HBONE_${failure.toUpperCase().replace(/-/g, "_")}`;
    this.status = options?.status;
  }
  readonly status: number | undefined;
}
