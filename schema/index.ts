export * from "./identity.ts";
export * from "./config.ts";
