import { ConflictError, ForbiddenError } from "../../core/errors.ts";

/** POST of a name that already exists (Kubernetes "AlreadyExists"). */
export class AlreadyExistsError extends ConflictError {
  override readonly code: string = "ERR_ALREADY_EXISTS";
}

/** The write carried a `metadata.resourceVersion` that is no longer current, or lost a race to another writer. */
export class StaleResourceVersionError extends ConflictError {
  override readonly code: string = "ERR_RESOURCE_VERSION_CONFLICT";
  constructor(message: string) {
    super(message, { field: "metadata.resourceVersion" });
  }
}

/** The write would take a namespace over its quota (Kubernetes answers "exceeded quota" with 403 too). */
export class QuotaExceededError extends ForbiddenError {
  override readonly code: string = "ERR_QUOTA_EXCEEDED";
}
