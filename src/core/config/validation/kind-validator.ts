import type { Report } from "./report.ts";
import type { ObjectShape } from "./shape.ts";

/** What a kind's semantic checks may know about the resource. */
export interface ValidationContext {
  namespace: string;
  name: string;
  report: Report;
}

/** Structure (checked first, generically) plus semantic rules (run only when the structure is sound). */
export interface KindValidator<S> {
  shape: ObjectShape;
  check(spec: S, ctx: ValidationContext): void;
}
