import { StraitError, type ErrorCategory } from "../core/errors.ts";

/** A string is not a valid SPIFFE ID (SPIFFE-ID.md). The message uses the spec's words. */
export class InvalidSpiffeIdError extends StraitError {
  readonly code = "ERR_SPIFFE_ID_INVALID";
  readonly category: ErrorCategory = "invalid";
}

/** PEM text could not be decoded (wrong label, bad base64, not DER). */
export class PemError extends StraitError {
  readonly code = "ERR_PEM_INVALID";
  readonly category: ErrorCategory = "invalid";
}

/** A PKCS#10 CSR is malformed, its signature (proof of possession) fails, or it asks for something we refuse. */
export class CsrError extends StraitError {
  readonly code: string = "ERR_CSR_INVALID";
  readonly category: ErrorCategory = "invalid";
}

export class CsrSignatureError extends CsrError {
  override readonly code = "ERR_CSR_SIGNATURE";
}

/** The CSR's key is not P-256 or RSA >= 2048. */
export class UnsupportedKeyError extends CsrError {
  override readonly code = "ERR_KEY_UNSUPPORTED";
}

/** The CSR names an identity (URI SAN) other than the one being issued, or more than one URI. */
export class CsrIdentityMismatchError extends CsrError {
  override readonly code = "ERR_CSR_IDENTITY_MISMATCH";
}

/** A JWT-SVID failed validation (JWT-SVID.md §4). */
export class JwtSvidError extends StraitError {
  readonly code = "ERR_JWT_SVID_INVALID";
  readonly category: ErrorCategory = "unauthenticated";
}

/** A SPIFFE bundle document is malformed. */
export class BundleError extends StraitError {
  readonly code = "ERR_BUNDLE_INVALID";
  readonly category: ErrorCategory = "invalid";
}

/** Node attestation failed (bad, used or expired join token; bad Kubernetes token). */
export class AttestationError extends StraitError {
  readonly code = "ERR_ATTESTATION_FAILED";
  readonly category: ErrorCategory = "unauthenticated";
}

/** The identity has been revoked. */
export class RevokedError extends StraitError {
  readonly code = "ERR_REVOKED";
  readonly category: ErrorCategory = "forbidden";
}

/** No usable signing CA is configured. */
export class CaUnavailableError extends StraitError {
  readonly code = "ERR_CA_UNAVAILABLE";
  readonly category: ErrorCategory = "unavailable";
}

/** A renewal's proof of possession of the node's current X.509-SVID key failed (bad certificate, nonce or signature). */
export class RenewalProofError extends StraitError {
  readonly code = "ERR_RENEWAL_PROOF";
  readonly category: ErrorCategory = "unauthenticated";
}
