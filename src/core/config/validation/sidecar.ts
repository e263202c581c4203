import type { IstioEgressListener, IstioIngressListener, OutboundTrafficPolicy, SidecarPort, SidecarSpec } from "../kinds/sidecar.ts";
import { checkAlphaWorkloadSelector, labelsShape } from "./common.ts";
import { checkConnectionPool, connectionPoolShape } from "./destination-rule.ts";
import { checkServerTls, serverTlsShape } from "./gateway.ts";
import {
  fqdnProblem,
  isHttpProtocol,
  isIpAddress,
  isTlsProtocol,
  namespaceSlashHostProblems,
  portNameProblem,
  portProblem,
  protocolProblem,
  unixAddressProblem,
} from "./istio-names.ts";
import type { KindValidator } from "./kind-validator.ts";
import type { Report } from "./report.ts";
import { arr, int, obj, oneOf, req, str } from "./shape.ts";
import { checkDestination, destinationShape } from "./virtual-service.ts";

const CAPTURE_MODES = ["DEFAULT", "IPTABLES", "NONE"] as const;

const portShape = obj<SidecarPort>({
  number: int({ min: 0, max: 4294967295 }),
  protocol: str(),
  name: str(),
  targetPort: int({ min: 0, max: 4294967295 }),
});

const shape = obj<SidecarSpec>({
  workloadSelector: obj<{ labels?: Record<string, string> }>({ labels: labelsShape }),
  ingress: arr(
    obj<IstioIngressListener>({
      port: req(portShape),
      bind: str(),
      captureMode: oneOf(CAPTURE_MODES),
      defaultEndpoint: str(),
      tls: serverTlsShape,
      connectionPool: connectionPoolShape,
    }),
  ),
  egress: arr(obj<IstioEgressListener>({ port: portShape, bind: str(), captureMode: oneOf(CAPTURE_MODES), hosts: req(arr(str())) })),
  outboundTrafficPolicy: obj<OutboundTrafficPolicy>({ mode: oneOf(["REGISTRY_ONLY", "ALLOW_ANY"]), egressProxy: destinationShape }),
  inboundConnectionPool: connectionPoolShape,
});

const UNIX = "unix://";
const LOOPBACK_OR_ANY = ["127.0.0.1", "0.0.0.0", "::1", "::"];

/** Istio's `ValidateSidecar` (pkg/config/validation/validation.go). */
export const sidecarValidator: KindValidator<SidecarSpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    checkAlphaWorkloadSelector(spec.workloadSelector, "spec.workloadSelector", r);
    if ((spec.egress?.length ?? 0) === 0 && (spec.ingress?.length ?? 0) === 0 && spec.outboundTrafficPolicy === undefined && spec.inboundConnectionPool === undefined) {
      r.error("spec", "empty configuration provided: set egress, ingress, outboundTrafficPolicy or inboundConnectionPool");
      return;
    }
    const ingressPorts = new Map<number, number>();
    spec.ingress?.forEach((l, i) => checkIngress(l, `spec.ingress[${i}]`, ingressPorts, i, r));
    if (spec.inboundConnectionPool !== undefined) checkConnectionPool(spec.inboundConnectionPool, "spec.inboundConnectionPool", r);
    const egressPorts = new Map<number, number>();
    const sockets = new Map<string, number>();
    const egress = spec.egress ?? [];
    let catchAll = false;
    egress.forEach((l, i) => {
      const p = `spec.egress[${i}]`;
      if (l.port === undefined) {
        if (catchAll) r.error(`${p}.port`, "egress can have only one listener with empty port");
        else if (i !== egress.length - 1) r.error(`${p}.port`, "the egress listener with empty port (the catch-all) must be the last listener in the list");
        else catchAll = true;
      } else {
        checkEgressPort(l, p, r);
        if (l.port.number === undefined || l.port.number === 0) {
          const bind = l.bind ?? "";
          const prev = sockets.get(bind);
          if (prev !== undefined) r.error(`${p}.bind`, `unix domain socket values for listeners must be unique (also spec.egress[${prev}])`);
          else sockets.set(bind, i);
        } else {
          const prev = egressPorts.get(l.port.number);
          if (prev !== undefined) r.error(`${p}.port.number`, `ports on IP bound listeners must be unique (also spec.egress[${prev}])`);
          else egressPorts.set(l.port.number, i);
        }
      }
      checkEgressHosts(l.hosts, `${p}.hosts`, ctx.namespace, r);
    });
    if (spec.outboundTrafficPolicy !== undefined) checkOutboundTrafficPolicy(spec.outboundTrafficPolicy, "spec.outboundTrafficPolicy", r);
  },
};

function checkPortBasics(port: SidecarPort, p: string, r: Report): void {
  if (port.name !== undefined && port.name !== "") {
    const n = portNameProblem(port.name);
    if (n !== undefined) r.error(`${p}.name`, n);
  }
  const proto = protocolProblem(port.protocol);
  if (proto !== undefined) r.error(`${p}.protocol`, proto);
  if ((port.targetPort ?? 0) > 0) r.error(`${p}.targetPort`, "targetPort has no impact on Sidecars");
}

function checkIngress(l: IstioIngressListener, p: string, ports: Map<number, number>, i: number, r: Report): void {
  checkPortBasics(l.port, `${p}.port`, r);
  const number = l.port.number ?? 0;
  const pp = portProblem(number);
  if (pp !== undefined) r.error(`${p}.port.number`, pp);
  if (l.bind !== undefined && l.bind !== "" && !isIpAddress(l.bind)) r.error(`${p}.bind`, `${l.bind} is not a valid IP`);
  const prev = ports.get(number);
  if (prev !== undefined) r.error(`${p}.port.number`, `ports on IP bound listeners must be unique (also spec.ingress[${prev}])`);
  else ports.set(number, i);
  const ep = l.defaultEndpoint;
  if (ep !== undefined && ep !== "") {
    if (ep.startsWith(UNIX)) {
      const u = unixAddressProblem(ep.slice(UNIX.length));
      if (u !== undefined) r.error(`${p}.defaultEndpoint`, u);
    } else {
      const hp = splitHostPort(ep);
      if (hp === undefined) r.error(`${p}.defaultEndpoint`, `must be of form 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://<path> (got ${JSON.stringify(ep)})`);
      else {
        if (hp.host !== "" && !LOOPBACK_OR_ANY.includes(hp.host)) {
          r.error(`${p}.defaultEndpoint`, "defaultEndpoint must be of form 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port>, unix://<path> or unset");
        }
        const port = /^\d+$/.test(hp.port) ? Number(hp.port) : Number.NaN;
        if (Number.isNaN(port)) r.error(`${p}.defaultEndpoint`, `defaultEndpoint port (${hp.port}) is not a number`);
        else {
          const bad = portProblem(port);
          if (bad !== undefined) r.error(`${p}.defaultEndpoint`, bad);
        }
      }
    }
  }
  const tls = l.tls;
  if (tls !== undefined) {
    const t = `${p}.tls`;
    if ((tls.subjectAltNames?.length ?? 0) > 0) r.error(`${t}.subjectAltNames`, "subjectAltNames is not supported in ingress tls");
    if (tls.httpsRedirect === true) r.error(`${t}.httpsRedirect`, "httpsRedirect is not supported");
    if (tls.credentialName !== undefined && tls.credentialName !== "") r.error(`${t}.credentialName`, "credentialName is not currently supported");
    if ((tls.credentialNames?.length ?? 0) > 0) r.error(`${t}.credentialNames`, "credentialNames is not currently supported");
    if ((tls.tlsCertificates?.length ?? 0) > 0) r.error(`${t}.tlsCertificates`, "tlsCertificates is not currently supported");
    if (tls.mode === "ISTIO_MUTUAL" || tls.mode === "AUTO_PASSTHROUGH") r.error(`${t}.mode`, `cannot set mode to ${tls.mode} in sidecar ingress tls`);
    if (!isTlsProtocol(l.port.protocol ?? "")) r.error(t, "a listener cannot have TLS settings for non HTTPS/TLS ports");
    checkServerTls(tls, t, r);
  }
  if (l.connectionPool !== undefined) {
    checkConnectionPool(l.connectionPool, `${p}.connectionPool`, r);
    if (l.connectionPool.http !== undefined && !isHttpProtocol(l.port.protocol ?? "")) {
      r.warn(
        `${p}.connectionPool.http`,
        `HTTP connection pool settings are configured for port ${number} but its protocol is not HTTP (${l.port.protocol ?? ""}); only TCP settings will apply`,
      );
    }
  }
}

function checkEgressPort(l: IstioEgressListener, p: string, r: Report): void {
  const port = l.port!;
  checkPortBasics(port, `${p}.port`, r);
  const bind = l.bind ?? "";
  if ((port.number ?? 0) === 0) {
    if (!bind.startsWith(UNIX)) r.error(`${p}.bind`, "ports with 0 value must have a unix domain socket bind address (unix:///path)");
    else {
      const u = unixAddressProblem(bind.slice(UNIX.length));
      if (u !== undefined) r.error(`${p}.bind`, u);
    }
    if (l.captureMode !== undefined && l.captureMode !== "DEFAULT" && l.captureMode !== "NONE") {
      r.error(`${p}.captureMode`, "captureMode must be DEFAULT/NONE for unix domain socket listeners");
    }
  } else {
    const pp = portProblem(port.number!);
    if (pp !== undefined) r.error(`${p}.port.number`, pp);
    if (bind !== "" && !isIpAddress(bind)) r.error(`${p}.bind`, `${bind} is not a valid IP`);
  }
}

function checkEgressHosts(hosts: readonly string[], p: string, namespace: string, r: Report): void {
  if (hosts.length === 0) {
    r.error(p, "egress listener must contain at least one host");
    return;
  }
  const byNamespace = new Map<string, Set<string>>();
  hosts.forEach((h, i) => {
    const hp = `${p}[${i}]`;
    const slash = h.indexOf("/");
    if (slash >= 0) {
      const ns = h.slice(0, slash) === "." ? namespace : h.slice(0, slash);
      const svc = h.slice(slash + 1);
      const seen = byNamespace.get(ns) ?? new Set<string>();
      if (svc !== "*" ? seen.has(svc) || seen.has("*") : seen.size > 0) r.warn(hp, `duplicated egress host: ${h}`);
      seen.add(svc);
      byNamespace.set(ns, seen);
    }
    for (const problem of namespaceSlashHostProblems(h, { gateway: false })) r.error(hp, problem);
  });
  if (byNamespace.get("*")?.has("*") === true && byNamespace.size !== 1) r.warn(p, "`*/*` host selects all resources, no other hosts can be added");
}

function checkOutboundTrafficPolicy(tp: OutboundTrafficPolicy, p: string, r: Report): void {
  const proxy = tp.egressProxy;
  if (proxy === undefined) return;
  if ((tp.mode ?? "REGISTRY_ONLY") !== "ALLOW_ANY") {
    r.error(`${p}.egressProxy`, "egressProxy must be set only with ALLOW_ANY outboundTrafficPolicy mode");
    return;
  }
  const f = fqdnProblem(proxy.host);
  if (f !== undefined) r.error(`${p}.egressProxy.host`, f);
  if (proxy.port === undefined) {
    r.error(`${p}.egressProxy.port`, "egressProxy port must be set");
    return;
  }
  checkDestination(proxy, `${p}.egressProxy`, r);
}

/** net.SplitHostPort for `host:port` and `[v6]:port`. */
function splitHostPort(s: string): { host: string; port: string } | undefined {
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0 || s[end + 1] !== ":") return undefined;
    return { host: s.slice(1, end), port: s.slice(end + 2) };
  }
  const colon = s.lastIndexOf(":");
  if (colon < 0 || s.indexOf(":") !== colon) return undefined;
  return { host: s.slice(0, colon), port: s.slice(colon + 1) };
}
