export * from "./identity.ts";
export * from "./config.ts";
export * from "./audit.ts";
