import { StraitError, type ErrorCategory } from "../errors.ts";

/** Base of routing errors; `field` names the offending config path. */
export abstract class RoutingError extends StraitError {}

/** A user-supplied regex is not valid RE2 (or is too long). */
export class RegexCompileError extends RoutingError {
  readonly code: string = "ERR_ROUTING_REGEX";
  readonly category: ErrorCategory = "invalid";
}

/** A route entry cannot be compiled (the rest of the table still is). */
export class RouteCompileError extends RoutingError {
  readonly code: string = "ERR_ROUTING_COMPILE";
  readonly category: ErrorCategory = "invalid";
}
