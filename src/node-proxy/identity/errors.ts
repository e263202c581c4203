/** Errors of the proxy's identity subsystem, each with a stable `code`. */
import { StraitError, type ErrorCategory } from "../../core/errors.ts";

/** Why a peer's X.509-SVID was refused (spiffe-checklist section D). */
export type PeerRefusalReason =
  | "no-certificate"
  | "malformed"
  | "uri-san-count"
  | "invalid-spiffe-id"
  | "leaf-is-ca"
  | "key-usage"
  | "extended-key-usage"
  | "unknown-critical-extension"
  | "untrusted-trust-domain"
  | "untrusted-chain"
  | "expired"
  | "not-yet-valid"
  | "bad-intermediate"
  | "revoked"
  | "unexpected-identity";

/** A peer certificate chain that is not an acceptable X.509-SVID; the connection is refused. */
export class PeerVerificationError extends StraitError {
  readonly code: string = "ERR_PEER_REFUSED";
  readonly category: ErrorCategory = "unauthenticated";
  constructor(
    readonly reason: PeerRefusalReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`peer refused (${reason}): ${message}`, options);
  }
}

/** The control API answered with an error or could not be reached. */
export class ControlApiError extends StraitError {
  readonly code: string = "ERR_CONTROL_API";
  readonly category: ErrorCategory = "unavailable";
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  /** 4xx other than 408/429: retrying the same request will not help. */
  get permanent(): boolean {
    return this.status !== undefined && this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

/** The node could not obtain or keep its own identity. */
export class NodeIdentityError extends StraitError {
  readonly code: string = "ERR_NODE_IDENTITY";
  readonly category: ErrorCategory = "unavailable";
}

/** An SVID the issuer returned does not match the key or identity it was requested for. */
export class IssuedSvidMismatchError extends StraitError {
  readonly code: string = "ERR_ISSUED_SVID_MISMATCH";
  readonly category: ErrorCategory = "unavailable";
}
