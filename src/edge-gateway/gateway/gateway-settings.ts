/**
 * The gateway's settings from its vars (Workers `[vars]`, Deno environment), read once per isolate
 * or process. Strait's own vars are strict: unset or empty means the default, any other value out
 * of range makes the gateway misconfigured: it logs why once, `/healthz` answers 503 naming the
 * var, and every request gets a 503 local reply naming it (never a crash, never a guessed value).
 * The `OTEL_*` vars follow the OpenTelemetry specification instead (a warning, then the default):
 * see `telemetrySettingsFrom`.
 */
import { parseEnumVar, parseNumberVar, type EnumVarSpec, type NumberVarSpec } from "../../core/env-vars.ts";
import { switchWord, telemetrySettingsFrom, type TelemetrySettings } from "./gateway-telemetry.ts";
import { localReplyResponse } from "./local-reply.ts";

export const GATEWAY_VARS = {
  /** Seconds between snapshot version checks. */
  SNAPSHOT_CHECK_SECONDS: { name: "SNAPSHOT_CHECK_SECONDS", fallback: 2, min: 0, max: 3600 } satisfies NumberVarSpec,
  /** The JSON access log. */
  ACCESS_LOG: { name: "ACCESS_LOG", fallback: "on", allowed: ["on", "off"] } satisfies EnumVarSpec<"on" | "off">,
  /**
   * `x-request-id` on every response (Envoy's `always_set_request_id_in_response`). Off by default,
   * as in Envoy and Istio: the id travels upstream and into the access log, not back to the client.
   */
  RESPONSE_REQUEST_ID: { name: "RESPONSE_REQUEST_ID", fallback: "off", allowed: ["on", "off"] } satisfies EnumVarSpec<"on" | "off">,
} as const;

/** A Strait var the gateway cannot run with. */
export interface SettingProblem {
  var: string;
  /** `NAME: must be ..., got "..."`. */
  message: string;
}

export interface GatewaySettings {
  snapshotCheckMs: number;
  telemetry: TelemetrySettings;
  /** Whether responses carry the request's `x-request-id` (`RESPONSE_REQUEST_ID`). */
  responseRequestId: boolean;
  /** Empty when every Strait var is valid; otherwise the gateway serves only {@link misconfiguredResponse}. */
  problems: SettingProblem[];
}

export function gatewaySettingsFrom(env: Record<string, unknown>, warn: (message: string) => void = (m) => console.warn(m)): GatewaySettings {
  const str = (k: string) => (typeof env[k] === "string" ? (env[k] as string) : undefined);
  const problems: SettingProblem[] = [];
  const check = parseNumberVar(str("SNAPSHOT_CHECK_SECONDS"), GATEWAY_VARS.SNAPSHOT_CHECK_SECONDS);
  if (!check.ok) problems.push({ var: "SNAPSHOT_CHECK_SECONDS", message: `SNAPSHOT_CHECK_SECONDS: ${check.why}` });
  const accessLog = parseEnumVar(switchWord(str("ACCESS_LOG")), GATEWAY_VARS.ACCESS_LOG);
  if (!accessLog.ok) problems.push({ var: "ACCESS_LOG", message: `ACCESS_LOG: ${accessLog.why}` });
  const requestId = parseEnumVar(switchWord(str("RESPONSE_REQUEST_ID")), GATEWAY_VARS.RESPONSE_REQUEST_ID);
  if (!requestId.ok) problems.push({ var: "RESPONSE_REQUEST_ID", message: `RESPONSE_REQUEST_ID: ${requestId.why}` });
  return {
    snapshotCheckMs: (check.ok ? check.value : GATEWAY_VARS.SNAPSHOT_CHECK_SECONDS.fallback) * 1000,
    // A refused ACCESS_LOG leaves the log on (it is never served with: the gateway answers 503).
    telemetry: telemetrySettingsFrom(env, warn),
    responseRequestId: requestId.ok && requestId.value === "on",
    problems,
  };
}

/** Logs a misconfigured gateway's problems (once, when the isolate or process builds its gateway). */
export function logProblems(problems: readonly SettingProblem[], log: (message: string) => void = (m) => console.error(m)): void {
  for (const p of problems) log(`gateway misconfigured, answering 503 until fixed: ${p.message}`);
}

/**
 * What a misconfigured gateway answers: `/healthz` (GET, HEAD) a 503 JSON naming the vars and
 * why, any other request a 503 local reply naming only the vars (details `gateway_misconfigured`
 * in the access log's terms): a client learns which setting is wrong, not its value.
 */
export function misconfiguredResponse(problems: readonly SettingProblem[], method: string, pathname: string): Response {
  if (pathname === "/healthz" && (method === "GET" || method === "HEAD")) {
    const res = Response.json({ ok: false, misconfigured: problems }, { status: 503 });
    return method === "HEAD" ? new Response(null, { status: 503, headers: res.headers }) : res;
  }
  return localReplyResponse({ status: 503, body: `gateway misconfigured: ${problems.map((p) => p.var).join(", ")} (see /healthz or the gateway's log)`, flags: [], details: "gateway_misconfigured" });
}
