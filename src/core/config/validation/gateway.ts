import type { GatewayPort, GatewaySpec, Server, ServerTLSSettings } from "../kinds/gateway.ts";
import { checkDns1123Label, checkHost, checkSelectorLabels, isIp, labelsShape, portNumberShape, stringListShape } from "./common.ts";
import type { KindValidator } from "./kind-validator.ts";
import type { Report } from "./report.ts";
import { arr, bool, int, obj, oneOf, req, str } from "./shape.ts";

/** Protocols a Gateway server may speak (case-insensitive, as Istio parses them). */
const PROTOCOLS = ["HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "TCP", "TLS"];
const TLS_VERSIONS = ["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"];

const tlsShape = obj<ServerTLSSettings>({
  httpsRedirect: bool(),
  mode: oneOf(["PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"]),
  serverCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  caCrl: str(),
  credentialName: str(),
  credentialNames: stringListShape,
  tlsCertificates: arr(
    obj<{ serverCertificate?: string; privateKey?: string; caCertificates?: string }>({ serverCertificate: str(), privateKey: str(), caCertificates: str() }),
  ),
  caCertCredentialName: str(),
  subjectAltNames: stringListShape,
  verifyCertificateSpki: stringListShape,
  verifyCertificateHash: stringListShape,
  minProtocolVersion: oneOf(TLS_VERSIONS),
  maxProtocolVersion: oneOf(TLS_VERSIONS),
  cipherSuites: stringListShape,
  ecdhCurves: stringListShape,
});

const shape = obj<GatewaySpec>({
  servers: req(
    arr(
      obj<Server>({
        port: req(obj<GatewayPort>({ number: req(portNumberShape), protocol: req(str()), name: str(), targetPort: int({ min: 1, max: 65535 }) })),
        bind: str(),
        hosts: req(stringListShape),
        tls: tlsShape,
        defaultEndpoint: str(),
        name: str(),
      }),
    ),
  ),
  selector: labelsShape,
});

export const gatewayValidator: KindValidator<GatewaySpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    checkSelectorLabels(spec.selector, "spec.selector", r);
    if (spec.servers.length === 0) r.error("spec.servers", "at least one server is required");
    const portNames = new Map<string, number>();
    spec.servers.forEach((s, i) => {
      const p = `spec.servers[${i}]`;
      checkServer(s, p, r);
      const name = s.port.name;
      if (name !== undefined) {
        const prev = portNames.get(name);
        // Istio requires a port name to mean one port number across servers.
        if (prev !== undefined && prev !== s.port.number) r.error(`${p}.port.name`, `port name ${JSON.stringify(name)} is already used for port ${prev}`);
        else portNames.set(name, s.port.number);
      }
    });
  },
};

/** Protocols pilot `protocol.IsHTTP` counts as HTTP. */
const HTTP_PROTOCOLS = ["HTTP", "HTTP2", "GRPC", "GRPC-WEB"];

function checkServer(s: Server, p: string, r: Report): void {
  const protocol = s.port.protocol.toUpperCase();
  if (!PROTOCOLS.includes(protocol)) r.error(`${p}.port.protocol`, `must be one of ${PROTOCOLS.join(", ")} (got ${JSON.stringify(s.port.protocol)})`);
  if (s.hosts.length === 0) r.error(`${p}.hosts`, "at least one host is required");
  s.hosts.forEach((h, j) => {
    const hp = `${p}.hosts[${j}]`;
    const slash = h.indexOf("/");
    const ns = slash < 0 ? undefined : h.slice(0, slash);
    const dns = slash < 0 ? h : h.slice(slash + 1);
    if (ns !== undefined && ns !== "." && ns !== "*" && ns !== "~") checkDns1123Label(ns, hp, r);
    checkHost(dns, hp, r, { allowWildcard: true, allowStar: true });
  });
  if (s.bind !== undefined && !isIp(s.bind) && !s.bind.startsWith("unix://")) r.error(`${p}.bind`, `must be an IP address or unix:// path (got ${JSON.stringify(s.bind)})`);
  const tls = s.tls;
  // pilot validateServer: HTTPS/TLS servers need `tls` (an unset mode is PASSTHROUGH);
  // plain-text servers may carry `tls` only as a passthrough / httpsRedirect stub.
  const isTls = protocol === "HTTPS" || protocol === "TLS";
  if (isTls && tls === undefined) r.error(`${p}.tls`, `server protocol ${protocol} requires tls settings`);
  if (tls === undefined) return;
  const passthrough = tls.mode === undefined || tls.mode === "PASSTHROUGH" || tls.mode === "AUTO_PASSTHROUGH";
  if (isTls && tls.mode === undefined && tls.httpsRedirect !== true) r.warn(`${p}.tls.mode`, "no mode set: Istio treats the server as PASSTHROUGH");
  if (!isTls) {
    if (!HTTP_PROTOCOLS.includes(protocol)) r.error(`${p}.tls`, `server protocol ${protocol} cannot have tls settings (only HTTPS and TLS servers can)`);
    else if (!passthrough || tls.caCertificates !== undefined || tls.privateKey !== undefined || tls.serverCertificate !== undefined) {
      r.error(`${p}.tls`, `plain-text ${protocol} server cannot have tls settings other than httpsRedirect`);
    }
  }
  const credentials = (["credentialName", "credentialNames", "tlsCertificates"] as const).filter((k) => tls[k] !== undefined);
  if (credentials.length > 1) r.error(`${p}.tls.${credentials[1]}`, `only one of credentialName, credentialNames, tlsCertificates may be set (got ${credentials.join(", ")})`);
  for (const k of ["credentialNames", "tlsCertificates"] as const) {
    const n = tls[k]?.length;
    if (n !== undefined && (n < 1 || n > 2)) r.error(`${p}.tls.${k}`, `must have 1 or 2 entries (got ${n})`);
  }
  const needsCert = tls.mode === "SIMPLE" || tls.mode === "MUTUAL" || tls.mode === "OPTIONAL_MUTUAL";
  if (needsCert && credentials.length === 0) {
    if (tls.serverCertificate === undefined) r.error(`${p}.tls.serverCertificate`, `required for ${tls.mode} mode without credentialName`);
    if (tls.privateKey === undefined) r.error(`${p}.tls.privateKey`, `required for ${tls.mode} mode without credentialName`);
    if (tls.mode !== "SIMPLE" && tls.caCertificates === undefined) r.error(`${p}.tls.caCertificates`, `required for ${tls.mode} mode without credentialName`);
  }
  if (credentials.length > 0 && (tls.serverCertificate !== undefined || tls.privateKey !== undefined)) {
    r.error(`${p}.tls.serverCertificate`, "file certificates cannot be combined with credentialName/credentialNames/tlsCertificates");
  }
}
