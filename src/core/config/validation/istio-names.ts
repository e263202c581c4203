/**
 * Istio's own name and address rules (pkg/config/labels, pkg/config/validation/agent),
 * ported so that Strait accepts and refuses exactly what Istio does. Each
 * function returns the problem as a message, or `undefined` when the value is fine.
 * Unlike Kubernetes' DNS-1123 label, Istio's label regex accepts upper case.
 */

const ISTIO_DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
/** `*`, `*foo`, `*-foo` or a plain label: Istio allows a partial wildcard as the first label of a registry host. */
const ISTIO_WILDCARD_LABEL = /^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;

/** labels.IsDNS1123Label: 1-63 letters (any case), digits and `-`, alphanumeric at both ends. */
export function isIstioDns1123Label(s: string): boolean {
  return s.length <= 63 && ISTIO_DNS1123_LABEL.test(s);
}

/** labels.IsWildcardDNS1123Label. */
export function isIstioWildcardLabel(s: string): boolean {
  return s.length <= 63 && ISTIO_WILDCARD_LABEL.test(s);
}

function dns1123Preconditions(name: string): string | undefined {
  if (name.length > 255) return `domain name ${JSON.stringify(name)} too long (max 255)`;
  if (name.length === 0) return "empty domain name not allowed";
  return undefined;
}

/** agent.ValidateDNS1123Labels: every label valid (a trailing dot allowed), the top-level label not all digits. */
export function dns1123LabelsProblem(domain: string): string | undefined {
  const parts = domain.split(".");
  const tld = parts[parts.length - 1]!;
  if (/^[+-]?\d+$/.test(tld)) return `domain name ${JSON.stringify(domain)} invalid (top level domain ${JSON.stringify(tld)} cannot be all-numeric)`;
  for (let i = 0; i < parts.length; i++) {
    const label = parts[i]!;
    if (i === parts.length - 1 && label === "") return undefined;
    if (!isIstioDns1123Label(label)) return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(label)} invalid)`;
  }
  return undefined;
}

/** agent.ValidateFQDN (short names pass: a single label is a valid FQDN to Istio). */
export function fqdnProblem(name: string): string | undefined {
  return dns1123Preconditions(name) ?? dns1123LabelsProblem(name);
}

/**
 * agent.ValidateWildcardDomain: a DNS name whose first label may be a
 * wildcard (`*`, `*.example.com`, and also the partial `*foo.example.com`).
 */
export function wildcardDomainProblem(domain: string): string | undefined {
  const pre = dns1123Preconditions(domain);
  if (pre !== undefined) return pre;
  const dot = domain.indexOf(".");
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (!isIstioWildcardLabel(first)) return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(first)} invalid)`;
  return dot < 0 ? undefined : dns1123LabelsProblem(domain.slice(dot + 1));
}

/** agent.ValidatePartialWildCard: in Gateway and Sidecar hosts `*` must be alone or a `*.` prefix. */
export function partialWildcardProblem(host: string): string | undefined {
  if (host.includes("*") && host.length !== 1 && !host.startsWith("*.")) return `partial wildcard ${JSON.stringify(host)} not allowed`;
  return undefined;
}

/**
 * agent.ValidateNamespaceSlashWildcardHostname for Gateway servers
 * (`[ns/]host`, ns `*`, `.` or a namespace; IPs allowed) and Sidecar egress
 * (`ns/host` required, ns may also be `~`). Short names are refused.
 */
export function namespaceSlashHostProblems(entry: string, o: { gateway: boolean }): string[] {
  const slash = entry.indexOf("/");
  if (slash < 0) {
    if (o.gateway) return hostnamePartProblems(entry, true);
    return ["host must be of form namespace/dnsName"];
  }
  const ns = entry.slice(0, slash);
  const host = entry.slice(slash + 1);
  const out: string[] = [];
  if (ns === "" || host === "") out.push("config namespace and dnsName in host entry cannot be empty");
  const special = o.gateway ? ["*", "."] : ["*", ".", "~"];
  if (!special.includes(ns) && !isIstioDns1123Label(ns)) out.push(`invalid namespace value ${JSON.stringify(ns)} in ${o.gateway ? "gateway" : "sidecar"}`);
  out.push(...hostnamePartProblems(host, o.gateway));
  return out;
}

function hostnamePartProblems(host: string, gateway: boolean): string[] {
  const out: string[] = [];
  if (host !== "*" && !host.includes(".")) out.push("short names (non FQDN) are not allowed");
  const p = wildcardDomainProblem(host);
  if (p !== undefined && !(gateway && isIpAddress(host))) out.push(p);
  const partial = partialWildcardProblem(host);
  if (partial !== undefined) out.push(partial);
  return out;
}

/** netip.ParseAddr: IPv4 dotted quad (no leading zeros) or IPv6 (zones allowed). */
export function isIpAddress(s: string): boolean {
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(s)) return true;
  const zone = s.indexOf("%");
  const addr = zone < 0 ? s : s.slice(0, zone);
  if (zone >= 0 && zone === s.length - 1) return false;
  if (!/^[0-9A-Fa-f:.]+$/.test(addr) || !addr.includes(":")) return false;
  try {
    new URL(`http://[${addr}]/`);
    return true;
  } catch {
    return false;
  }
}

/** ValidateUnixAddress (the part after `unix://`): an absolute file path or an abstract `@name`. */
export function unixAddressProblem(path: string): string | undefined {
  if (path.length === 0) return "unix address must not be empty";
  if (path.startsWith("@")) return undefined;
  if (!path.startsWith("/") || path.endsWith("/")) return `${path} is not an absolute path to a file`;
  return undefined;
}

/** protocol.Parse: the protocols Istio understands (case-insensitive). */
const PROTOCOLS = new Map(
  ["GRPC", "GRPC-WEB", "HTTP", "HTTP_PROXY", "HTTP2", "HTTPS", "TCP", "TLS", "UDP", "MONGO", "REDIS", "MYSQL"].map((p) => [p.toLowerCase(), p] as const),
);

/** Canonical protocol name, or `undefined` for an unsupported one. */
export function parseProtocol(p: string): string | undefined {
  return PROTOCOLS.get(p.toLowerCase());
}

export const SUPPORTED_PROTOCOLS: readonly string[] = [...PROTOCOLS.values()];

/** ValidateProtocol. */
export function protocolProblem(p: string | undefined): string | undefined {
  if (p !== undefined && parseProtocol(p) !== undefined) return undefined;
  return `unrecognized protocol ${JSON.stringify(p ?? "")}; expected one of ${SUPPORTED_PROTOCOLS.join(", ")}`;
}

/** protocol.IsHTTP. */
export function isHttpProtocol(p: string): boolean {
  return ["HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY"].includes(parseProtocol(p) ?? "");
}

/** protocol.IsTLS. */
export function isTlsProtocol(p: string): boolean {
  return ["HTTPS", "TLS"].includes(parseProtocol(p) ?? "");
}

/** ValidatePortName. */
export function portNameProblem(name: string): string | undefined {
  return isIstioDns1123Label(name) ? undefined : `invalid port name: ${name}`;
}

/** ValidatePort. */
export function portProblem(port: number): string | undefined {
  return port >= 1 && port <= 65535 && Number.isInteger(port) ? undefined : `port number ${port} must be in the range 1..65535`;
}
