import type { GatewayPort, GatewaySpec, Server, ServerTLSSettings } from "../kinds/gateway.ts";
import { labelsShape, stringListShape } from "./common.ts";
import { isHttpProtocol, isIpAddress, isIstioDns1123Label, isTlsProtocol, namespaceSlashHostProblems, parseProtocol, portProblem, unixAddressProblem } from "./istio-names.ts";
import type { KindValidator } from "./kind-validator.ts";
import type { Report } from "./report.ts";
import { arr, bool, int, obj, oneOf, req, str, type ObjectShape } from "./shape.ts";

const TLS_VERSIONS = ["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"];

/** `ServerTLSSettings`, shared with the Sidecar kind (ingress `tls`). */
export const serverTlsShape: ObjectShape = obj<ServerTLSSettings>({
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
        port: req(obj<GatewayPort>({ number: req(int({ min: 0, max: 4294967295 })), protocol: req(str()), name: req(str()), targetPort: int({ min: 0, max: 4294967295 }) })),
        bind: str(),
        hosts: req(stringListShape),
        tls: serverTlsShape,
        defaultEndpoint: str(),
        name: str(),
      }),
    ),
  ),
  selector: labelsShape,
});

const UNIX = "unix://";

/** Istio's `ValidateGateway`. */
export const gatewayValidator: KindValidator<GatewaySpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    if (!isIstioDns1123Label(ctx.name)) r.error("metadata.name", `invalid gateway name: ${JSON.stringify(ctx.name)} (a Gateway name must be a DNS label, without dots)`);
    if (spec.servers.length === 0) r.error("spec.servers", "gateway must have at least one server");
    const portNames = new Map<string, number>();
    spec.servers.forEach((s, i) => {
      const p = `spec.servers[${i}]`;
      checkServer(s, p, r);
      const prev = portNames.get(s.port.name);
      if (prev !== undefined) r.error(`${p}.port.name`, `port names in servers must be unique: duplicate name ${s.port.name} (also spec.servers[${prev}])`);
      else portNames.set(s.port.name, i);
      if (!isHttpProtocol(s.port.protocol) && s.tls?.httpsRedirect === true) r.warn(`${p}.tls.httpsRedirect`, "tls.httpsRedirect should only be used with http servers");
    });
  },
};

function checkServer(s: Server, p: string, r: Report): void {
  if (s.hosts.length === 0) r.error(`${p}.hosts`, "server config must contain at least one host");
  s.hosts.forEach((h, j) => {
    for (const problem of namespaceSlashHostProblems(h, { gateway: true })) r.error(`${p}.hosts[${j}]`, problem);
  });
  const port = s.port;
  const bind = s.bind ?? "";
  const protocolOk = parseProtocol(port.protocol) !== undefined;
  if (!protocolOk) r.error(`${p}.port.protocol`, `invalid protocol ${JSON.stringify(port.protocol)}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP`);
  if (port.number > 0 || !bind.startsWith(UNIX)) {
    const pp = portProblem(port.number);
    if (pp !== undefined) r.error(`${p}.port.number`, pp);
  }
  if ((port.targetPort ?? 0) > 0) r.error(`${p}.port.targetPort`, "targetPort has no impact on Gateways");
  if (port.name === "") r.error(`${p}.port.name`, "port name must be set");
  if (bind.startsWith(UNIX)) {
    const u = unixAddressProblem(bind.slice(UNIX.length));
    if (u !== undefined) r.error(`${p}.bind`, u);
    if (port.number !== 0) r.error(`${p}.bind`, `port number must be 0 for unix domain socket (got ${port.number})`);
  } else if (bind !== "" && !isIpAddress(bind)) r.error(`${p}.bind`, `${bind} is not a valid IP`);
  if (s.tls !== undefined) checkServerTls(s.tls, `${p}.tls`, r);
  if (!protocolOk) return;
  if (isTlsProtocol(port.protocol) && s.tls === undefined) r.error(`${p}.tls`, "server must have TLS settings for HTTPS/TLS protocols");
  else if (!isTlsProtocol(port.protocol) && s.tls !== undefined) {
    if (isHttpProtocol(port.protocol)) {
      const tls = s.tls;
      const passthrough = tls.mode === undefined || tls.mode === "PASSTHROUGH" || tls.mode === "AUTO_PASSTHROUGH";
      if (!passthrough || nonEmpty(tls.caCertificates) || nonEmpty(tls.privateKey) || nonEmpty(tls.serverCertificate)) {
        r.error(`${p}.tls`, "server cannot have TLS settings for plain text HTTP ports");
      }
    } else r.error(`${p}.tls`, "server cannot have TLS settings for non HTTPS/TLS ports");
  }
}

function nonEmpty(v: string | undefined): boolean {
  return v !== undefined && v !== "";
}

/** Istio's `validateTLSOptions` (server side), used by Gateway servers and Sidecar ingress listeners. */
export function checkServerTls(tls: ServerTLSSettings, p: string, r: Report): void {
  if ((tls.minProtocolVersion === "TLSV1_0" || tls.minProtocolVersion === "TLSV1_1") && (tls.cipherSuites?.length ?? 0) === 0) {
    r.warn(`${p}.minProtocolVersion`, "TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.");
  }
  const dupes = (tls.cipherSuites ?? []).filter((c, i, all) => all.indexOf(c) !== i);
  if (dupes.length > 0) r.warn(`${p}.cipherSuites`, `ignoring duplicate cipher suites: ${[...new Set(dupes)].sort().join(", ")}`);
  const credentialNames = tls.credentialNames?.length ?? 0;
  const tlsCertificates = tls.tlsCertificates?.length ?? 0;
  if (tls.mode === "ISTIO_MUTUAL") {
    if (nonEmpty(tls.serverCertificate)) r.error(`${p}.serverCertificate`, "ISTIO_MUTUAL TLS cannot have associated server certificate");
    if (nonEmpty(tls.privateKey)) r.error(`${p}.privateKey`, "ISTIO_MUTUAL TLS cannot have associated private key");
    if (nonEmpty(tls.caCertificates)) r.error(`${p}.caCertificates`, "ISTIO_MUTUAL TLS cannot have associated CA bundle");
    if (tlsCertificates > 0) r.error(`${p}.tlsCertificates`, "ISTIO_MUTUAL TLS cannot have associated tlsCertificates");
    if (nonEmpty(tls.credentialName)) r.error(`${p}.credentialName`, "ISTIO_MUTUAL TLS cannot have associated credentialName");
    if (credentialNames > 0) r.error(`${p}.credentialNames`, "ISTIO_MUTUAL TLS cannot have associated credentialNames");
    return;
  }
  const mode = tls.mode ?? "PASSTHROUGH";
  if (mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH") {
    if ([tls.caCrl, tls.serverCertificate, tls.privateKey, tls.caCertificates, tls.credentialName].some(nonEmpty) || tlsCertificates > 0 || credentialNames > 0) {
      r.warn(p, `${mode} mode does not use certificates, they will be ignored`);
    }
  }
  let sources = 0;
  if (nonEmpty(tls.serverCertificate) && nonEmpty(tls.privateKey)) sources++;
  if (nonEmpty(tls.credentialName)) sources++;
  if (credentialNames > 0) sources++;
  if (tlsCertificates > 0) sources++;
  if (sources > 1) r.error(p, "only one of credentialName, credentialNames, serverCertificate/privateKey, tlsCertificates should be specified");
  for (const [k, n] of [["credentialNames", credentialNames], ["tlsCertificates", tlsCertificates]] as const) {
    if (tls[k] !== undefined && (n < 1 || n > 2)) r.error(`${p}.${k}`, `must have 1 or 2 entries (got ${n})`);
  }
  const terminating = mode === "SIMPLE" || mode === "MUTUAL" || mode === "OPTIONAL_MUTUAL";
  if (terminating && (nonEmpty(tls.credentialName) || credentialNames > 0)) return;
  if (terminating) {
    const prefix = mode === "SIMPLE" ? "SIMPLE TLS" : "MUTUAL TLS";
    if (mode !== "SIMPLE" && !nonEmpty(tls.caCertificates)) r.error(`${p}.caCertificates`, `${prefix} requires a client CA bundle`);
    const certs = tlsCertificates > 0 ? tls.tlsCertificates! : [{ serverCertificate: tls.serverCertificate, privateKey: tls.privateKey }];
    certs.forEach((c, i) => {
      const cp = tlsCertificates > 0 ? `${p}.tlsCertificates[${i}]` : p;
      if (!nonEmpty(c.serverCertificate)) r.error(`${cp}.serverCertificate`, `${prefix} requires a server certificate`);
      if (!nonEmpty(c.privateKey)) r.error(`${cp}.privateKey`, `${prefix} requires a private key`);
    });
  }
  if (nonEmpty(tls.caCrl)) {
    if (nonEmpty(tls.credentialName)) r.error(`${p}.caCrl`, "CRL is not supported with credentialName. CRL has to be specified in the credential");
    if (mode === "SIMPLE") r.error(`${p}.caCrl`, "CRL is not supported with SIMPLE TLS");
  }
}
