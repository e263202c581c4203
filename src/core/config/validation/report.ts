import type { FieldError } from "../field-error.ts";

/** Collects errors and warnings while a resource is checked. */
export class Report {
  readonly errors: FieldError[] = [];
  readonly warnings: FieldError[] = [];

  /** Errors that leave the value's structure unsound (wrong type, missing required field). */
  structuralErrors = 0;

  error(path: string, message: string): void {
    this.errors.push({ path, message });
  }
  /** An error after which semantic rules cannot safely read the value. */
  structural(path: string, message: string): void {
    this.structuralErrors++;
    this.errors.push({ path, message });
  }
  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }
}

/** `spec` + `hosts` -> `spec.hosts`; map keys that are not identifiers are quoted: `headers["x.y"]`. */
export function field(path: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return path === "" ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

/** `spec.http` + 0 -> `spec.http[0]`. */
export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}
