/**
 * strait-proxy settings from flags and environment (a flag wins over its variable).
 * Every problem is a `SettingsError` naming the flag, reported before anything starts.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ValidationError } from "../core/errors.ts";
import type { AttestationSettings, ListenAddress, ProxySettings } from "./context.ts";

export class SettingsError extends ValidationError {
  override readonly code: string = "ERR_PROXY_SETTINGS";
}

interface Option {
  flag: string;
  env: string;
  help: string;
  default?: string;
}

/** Every setting: flag, variable, meaning, default. The docs and `--help` are generated from this table. */
export const OPTIONS = {
  controlUrl: { flag: "control-url", env: "STRAIT_CONTROL_URL", help: "Base URL of the Strait control API (required)" },
  cluster: { flag: "cluster", env: "STRAIT_CLUSTER", help: "Cluster name of this node (required)" },
  node: { flag: "node", env: "STRAIT_NODE", help: "Node name (required)" },
  joinToken: { flag: "join-token", env: "STRAIT_JOIN_TOKEN", help: "One-time join token for the first attestation" },
  joinTokenFile: { flag: "join-token-file", env: "STRAIT_JOIN_TOKEN_FILE", help: "File holding the join token (keeps it out of the process list)" },
  k8sTokenPath: { flag: "k8s-token-path", env: "STRAIT_K8S_TOKEN_PATH", help: "Projected service-account token to attest with (Kubernetes PSAT)" },
  k8sCluster: { flag: "k8s-cluster", env: "STRAIT_K8S_CLUSTER", help: "Cluster name the control plane knows the PSAT issuer by (default: --cluster)" },
  stateDir: { flag: "state-dir", env: "STRAIT_STATE_DIR", help: "Last-known-good snapshot, SVIDs (0600) and bundle", default: "/var/lib/strait-proxy" },
  outbound: { flag: "outbound-addr", env: "STRAIT_OUTBOUND_ADDR", help: "Explicit outbound proxy for workloads", default: "127.0.0.1:15001" },
  inboundPlaintext: { flag: "inbound-plaintext-addr", env: "STRAIT_INBOUND_PLAINTEXT_ADDR", help: "Plaintext inbound for PERMISSIVE peers", default: "0.0.0.0:15006" },
  hbone: { flag: "hbone-addr", env: "STRAIT_HBONE_ADDR", help: "HBONE mutual-TLS listener", default: "0.0.0.0:15008" },
  edgeIngress: { flag: "edge-ingress-addr", env: "STRAIT_EDGE_INGRESS_ADDR", help: "Edge-gateway ingress (JWT-SVID)", default: "0.0.0.0:15443" },
  admin: { flag: "admin-addr", env: "STRAIT_ADMIN_ADDR", help: "Admin: /healthz /ready /config_dump /certs", default: "127.0.0.1:15000" },
  metrics: { flag: "metrics-addr", env: "STRAIT_METRICS_ADDR", help: "Prometheus /stats/prometheus", default: "0.0.0.0:15020" },
  hbonePeerPort: { flag: "hbone-peer-port", env: "STRAIT_HBONE_PEER_PORT", help: "Port peer node proxies accept HBONE on", default: "15008" },
  longPollSeconds: { flag: "long-poll-seconds", env: "STRAIT_LONG_POLL_SECONDS", help: "Snapshot long-poll wait", default: "30" },
  accessLog: { flag: "access-log", env: "STRAIT_ACCESS_LOG", help: "Access log: - (stdout), off, or a file path", default: "-" },
  logLevel: { flag: "log-level", env: "STRAIT_LOG_LEVEL", help: "Diagnostic log level on stderr: info, warn, error, off", default: "info" },
} as const satisfies Record<string, Option>;

export type OptionName = keyof typeof OPTIONS;

/** `host:port`, `[v6]:port` or `:port` (all interfaces). Port 0 lets the OS pick. */
export function parseListenAddress(raw: string, flag: string): ListenAddress {
  const text = raw.trim();
  const withHost = text.startsWith(":") ? `0.0.0.0${text}` : text;
  let url: URL;
  try {
    url = new URL(`tcp://${withHost}`);
  } catch {
    throw new SettingsError(`--${flag}: expected host:port, got ${JSON.stringify(raw)}`, { field: flag });
  }
  if (url.pathname !== "" || url.username !== "" || url.search !== "" || url.hash !== "" || !/:[0-9]{1,5}$/.test(withHost)) {
    throw new SettingsError(`--${flag}: expected host:port, got ${JSON.stringify(raw)}`, { field: flag });
  }
  const port = Number(url.port === "" ? "0" : url.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SettingsError(`--${flag}: port must be 0-65535`, { field: flag });
  return { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port };
}

function integer(raw: string, flag: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw.trim()) || !Number.isInteger(n) || n < min || n > max) throw new SettingsError(`--${flag}: expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`, { field: flag });
  return n;
}

const NAME = /^[a-z0-9]([a-z0-9._-]{0,251}[a-z0-9])?$/i;

export interface ParsedCommandLine {
  settings: ProxySettings;
  logLevel: "info" | "warn" | "error" | "off";
}

/** `--help` text. */
export function usage(): string {
  const lines = Object.values(OPTIONS).map((o: Option) => `  --${o.flag.padEnd(24)} ${o.env.padEnd(32)} ${o.help}${o.default === undefined ? "" : ` (default ${o.default})`}`);
  return `Usage: strait-proxy [flags]\n\nFlag                       Environment variable             Meaning\n${lines.join("\n")}\n`;
}

/**
 * Reads settings from `argv` (without node and script) and `env`.
 * @throws SettingsError naming the flag.
 */
export function parseSettings(argv: string[], env: Record<string, string | undefined>, readFile: (path: string) => string = (p) => readFileSync(p, "utf8")): ParsedCommandLine {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.values(OPTIONS).map((o: Option) => [o.flag, { type: "string" as const }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new SettingsError(err instanceof Error ? err.message : String(err));
  }
  const get = (name: OptionName): string | undefined => {
    const o: Option = OPTIONS[name];
    const v = values[o.flag];
    if (typeof v === "string") return v;
    const e = env[o.env];
    if (e !== undefined && e !== "") return e;
    return o.default;
  };
  const required = (name: OptionName): string => {
    const v = get(name);
    if (v === undefined || v.trim() === "") throw new SettingsError(`--${OPTIONS[name].flag} (or ${OPTIONS[name].env}) is required`, { field: OPTIONS[name].flag });
    return v.trim();
  };

  const rawUrl = required("controlUrl");
  let controlUrl: URL;
  try {
    controlUrl = new URL(rawUrl);
  } catch {
    throw new SettingsError(`--control-url: not a URL: ${JSON.stringify(rawUrl)}`, { field: "control-url" });
  }
  if (controlUrl.protocol !== "https:" && controlUrl.protocol !== "http:") throw new SettingsError("--control-url: must be http(s)", { field: "control-url" });

  const cluster = required("cluster");
  const node = required("node");
  if (!NAME.test(cluster)) throw new SettingsError(`--cluster: ${JSON.stringify(cluster)} is not a valid name`, { field: "cluster" });
  if (!NAME.test(node)) throw new SettingsError(`--node: ${JSON.stringify(node)} is not a valid name`, { field: "node" });

  const joinToken = get("joinToken");
  const joinTokenFile = get("joinTokenFile");
  const k8sTokenPath = get("k8sTokenPath");
  const given = [joinToken, joinTokenFile, k8sTokenPath].filter((v) => v !== undefined && v !== "").length;
  if (given > 1) throw new SettingsError("--join-token, --join-token-file and --k8s-token-path are exclusive", { field: "join-token" });
  let attestation: AttestationSettings;
  if (k8sTokenPath !== undefined && k8sTokenPath !== "") {
    attestation = { kind: "k8s-psat", tokenPath: k8sTokenPath, cluster: get("k8sCluster") ?? cluster };
  } else if (joinTokenFile !== undefined && joinTokenFile !== "") {
    let token: string;
    try {
      token = readFile(joinTokenFile).trim();
    } catch {
      throw new SettingsError(`--join-token-file: cannot read ${joinTokenFile}`, { field: "join-token-file" });
    }
    attestation = { kind: "join-token", token };
  } else {
    // A node restarting with its identity in the state directory needs no token; an empty one is refused by the control plane if it is ever used.
    attestation = { kind: "join-token", token: joinToken ?? "" };
  }

  const logLevel = required("logLevel");
  if (logLevel !== "info" && logLevel !== "warn" && logLevel !== "error" && logLevel !== "off") throw new SettingsError("--log-level: expected info, warn, error or off", { field: "log-level" });

  return {
    logLevel,
    settings: {
      controlUrl,
      cluster,
      node,
      attestation,
      listen: {
        outbound: parseListenAddress(required("outbound"), OPTIONS.outbound.flag),
        inboundPlaintext: parseListenAddress(required("inboundPlaintext"), OPTIONS.inboundPlaintext.flag),
        hbone: parseListenAddress(required("hbone"), OPTIONS.hbone.flag),
        edgeIngress: parseListenAddress(required("edgeIngress"), OPTIONS.edgeIngress.flag),
        admin: parseListenAddress(required("admin"), OPTIONS.admin.flag),
        metrics: parseListenAddress(required("metrics"), OPTIONS.metrics.flag),
      },
      stateDir: required("stateDir"),
      longPollSeconds: integer(required("longPollSeconds"), OPTIONS.longPollSeconds.flag, 0, 300),
      hbonePeerPort: integer(required("hbonePeerPort"), OPTIONS.hbonePeerPort.flag, 1, 65535),
      accessLog: required("accessLog"),
    },
  };
}
