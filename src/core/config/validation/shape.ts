/**
 * A small declarative description of a spec's JSON structure, checked by
 * `checkShape`. It gives every kind the same treatment for types, unknown
 * fields, enums, required fields, durations and deprecations, so per-kind
 * rules only deal with semantics.
 *
 * `obj<T>()` is typed against the spec interface: every field of `T` must be
 * described (and nothing else), and non-optional fields must be `req(...)`.
 */

interface ShapeBase {
  required?: boolean;
  /** Accepted with a warning carrying this message. */
  deprecated?: string;
}
export interface StringShape extends ShapeBase {
  type: "string";
  enum?: readonly string[];
  /** `duration`: Go/protobuf duration string, >= 1ms; `any-duration`: any non-negative duration (`0s` allowed). */
  format?: "duration" | "any-duration";
}
export interface BooleanShape extends ShapeBase {
  type: "boolean";
}
export interface NumberShape extends ShapeBase {
  type: "number";
  integer?: boolean;
  min?: number;
  max?: number;
}
export interface ObjectShape extends ShapeBase {
  type: "object";
  fields: Readonly<Record<string, Shape>>;
}
export interface ArrayShape extends ShapeBase {
  type: "array";
  items: Shape;
}
export interface MapShape extends ShapeBase {
  type: "map";
  values: Shape;
}
/** Any JSON value (opaque fields we store but do not interpret). */
export interface AnyShape extends ShapeBase {
  type: "any";
}
export type Shape = StringShape | BooleanShape | NumberShape | ObjectShape | ArrayShape | MapShape | AnyShape;

type ShapeFor<T> = [T] extends [string]
  ? StringShape
  : [T] extends [boolean]
    ? BooleanShape
    : [T] extends [number]
      ? NumberShape
      : [T] extends [readonly unknown[]]
        ? ArrayShape
        : string extends keyof T
          ? MapShape
          : ObjectShape | AnyShape;

/** Field shapes for the interface `T`; required-ness must match the interface. */
export type FieldShapes<T> = {
  [K in keyof T]-?: ShapeFor<NonNullable<T[K]>> & ({} extends Pick<T, K> ? unknown : { required: true });
};

export function obj<T>(fields: FieldShapes<T>): ObjectShape {
  return { type: "object", fields: fields as Record<string, Shape> };
}
export function str(): StringShape {
  return { type: "string" };
}
export function oneOf(values: readonly string[]): StringShape {
  return { type: "string", enum: values };
}
export function duration(): StringShape {
  return { type: "string", format: "duration" };
}
/** A duration with no lower bound (fields Istio leaves unchecked, or where `0s` means "off"). */
export function anyDuration(): StringShape {
  return { type: "string", format: "any-duration" };
}
export function bool(): BooleanShape {
  return { type: "boolean" };
}
export function int(range?: { min?: number; max?: number }): NumberShape {
  return { type: "number", integer: true, ...range };
}
export function num(range?: { min?: number; max?: number }): NumberShape {
  return { type: "number", ...range };
}
export function arr(items: Shape): ArrayShape {
  return { type: "array", items };
}
export function map(values: Shape): MapShape {
  return { type: "map", values };
}
export function anyJson(): AnyShape {
  return { type: "any" };
}
/** Marks a field as required. */
export function req<S extends Shape>(shape: S): S & { required: true } {
  return { ...shape, required: true };
}
/** Marks a field as deprecated but accepted (a warning). */
export function deprecated<S extends Shape>(shape: S, message: string): S {
  return { ...shape, deprecated: message };
}
