/** Public surface of the runtime-free Istio config model. */
export * from "./resource.ts";
export type * from "./kinds/common.ts";
export type * from "./kinds/gateway.ts";
export type * from "./kinds/virtual-service.ts";
export type * from "./kinds/destination-rule.ts";
export type * from "./kinds/service-entry.ts";
export type * from "./kinds/workload-entry.ts";
export type * from "./kinds/authorization-policy.ts";
export type * from "./kinds/peer-authentication.ts";
export type * from "./kinds/request-authentication.ts";
export type * from "./kinds/rate-limit-policy.ts";
export * from "./errors.ts";
export * from "./hosts.ts";
export * from "./duration.ts";
export * from "./regex.ts";
export * from "./validate.ts";
export * from "./parse-documents.ts";
export * from "./analyze.ts";
