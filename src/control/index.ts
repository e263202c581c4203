import { createControlApp } from "./app.ts";
import type { ControlEnv } from "./env.ts";
import { runScheduled } from "./scheduled.ts";

const app = createControlApp();

export default {
  fetch: app.fetch,
  scheduled(_controller, env, ctx) {
    ctx.waitUntil(runScheduled(env));
  },
} satisfies ExportedHandler<ControlEnv>;
export { GatewaySvidEntrypoint } from "./identity/gateway-svid-routes.ts";
export { ConfigPublisher } from "./publishing/config-publisher.ts";
