/** One problem with one field; `path` like `spec.http[0].route[1].weight`. */
export interface FieldError {
  path: string;
  message: string;
}
