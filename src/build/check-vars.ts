/**
 * Deploy-time check of the vars a wrangler config gives a worker: the same rules the workers apply
 * at run time (a bad Strait var is a 503 naming it there), run before `wrangler deploy`, so a typo
 * in `wrangler.toml` stops the deploy instead of the traffic. `npm run deploy:gateway` and
 * `npm run deploy:control` run it first. Vars set outside the file (the dashboard, `--var`) are not
 * seen here; the workers still refuse them at run time.
 *
 *   node --import tsx src/build/check-vars.ts [--config wrangler.toml] [--env control]
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { parseNumberVar, type NumberVarSpec } from "../core/env-vars.ts";
import type { ControlEnv } from "../control/env.ts";
import { AUDIT_RETENTION_VARS } from "../control/audit.ts";
import { QUOTA_VARS } from "../control/config/namespace-quotas.ts";
import { jwtSvidTtlSeconds, k8sClustersOf, trustDomainOf, x509SvidTtlSeconds } from "../control/identity/settings.ts";
import { PUBLISHER_VARS } from "../control/publishing/publisher-settings.ts";
import { gatewaySettingsFrom } from "../edge-gateway/gateway/gateway-settings.ts";

export interface VarCheck {
  /** `NAME: must be ..., got "..."`: the worker would refuse to use these. */
  errors: string[];
  /** Values the worker replaces by their default with a warning (the OpenTelemetry vars). */
  warnings: string[];
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The control worker's vars, checked with the functions the worker itself reads them with. */
export function checkControlVars(vars: Record<string, unknown>): VarCheck {
  const env = Object.fromEntries(Object.entries(vars).filter(([, v]) => typeof v === "string")) as unknown as ControlEnv;
  const errors: string[] = [];
  for (const read of [trustDomainOf, x509SvidTtlSeconds, jwtSvidTtlSeconds, k8sClustersOf]) {
    try {
      read(env);
    } catch (err) {
      errors.push(messageOf(err));
    }
  }
  const specs: NumberVarSpec[] = [...Object.values(PUBLISHER_VARS), ...Object.values(QUOTA_VARS), ...Object.values(AUDIT_RETENTION_VARS)];
  const raw = env as unknown as Record<string, string | undefined>;
  for (const spec of specs) {
    const r = parseNumberVar(raw[spec.name], spec);
    if (!r.ok) errors.push(`${spec.name}: ${r.why}`);
  }
  return { errors, warnings: [] };
}

/** The edge gateway's vars: Strait's own strict, the OpenTelemetry ones warned about. */
export function checkGatewayVars(vars: Record<string, unknown>): VarCheck {
  const warnings: string[] = [];
  const settings = gatewaySettingsFrom(vars, (m) => warnings.push(m));
  return { errors: settings.problems.map((p) => p.message), warnings };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const config = resolve(arg("config") ?? "wrangler.toml");
  const env = arg("env");
  const vars = unstable_readConfig({ config, ...(env === undefined ? {} : { env }) }, { hideWarnings: true }).vars as Record<string, unknown>;
  const where = env === undefined ? "[vars]" : `[env.${env}.vars]`;
  const { errors, warnings } = env === "control" ? checkControlVars(vars) : checkGatewayVars(vars);
  for (const w of warnings) process.stderr.write(`warning: ${config} ${where} ${w}\n`);
  for (const e of errors) process.stderr.write(`error: ${config} ${where} ${e}\n`);
  if (errors.length > 0) {
    process.stderr.write(`${errors.length} var(s) the ${env === "control" ? "control" : "gateway"} worker would refuse; nothing was deployed\n`);
    process.exit(1);
  }
  process.stdout.write(`vars in ${config} ${where}: ok\n`);
}
