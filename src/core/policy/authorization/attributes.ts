/**
 * One generator per Istio attribute (pilot `authz/model/generator.go`): how a
 * single policy value becomes a predicate over the request. `httpOnly`
 * attributes cannot be evaluated on TCP traffic; the rule compiler then
 * narrows ALLOW and widens DENY/AUDIT exactly as Istio does.
 */
import { cidrContains, parseCidr } from "../cidr.ts";
import {
  matchString,
  namespacePattern,
  principalPattern,
  requestPrincipalPattern,
  serviceAccountPattern,
  stringPattern,
  trustDomainOf,
} from "../string-match.ts";
import type { ContextView } from "./context-view.ts";
import { compilePathValue } from "./path-match.ts";

export type Predicate = (view: ContextView) => boolean;

export interface Attribute {
  /** The attribute name as Istio writes it (`source.ip`, `request.headers[x-token]`, `paths`...). */
  readonly key: string;
  readonly httpOnly: boolean;
  /** A predicate for one value, or a string saying why the value is unusable. */
  compile(value: string): Predicate | string;
}

const attr = (key: string, httpOnly: boolean, compile: (value: string) => Predicate | string): Attribute => ({ key, httpOnly, compile });

function cidrAttr(key: string, pick: (v: ContextView) => Uint8Array | undefined): Attribute {
  return attr(key, false, (value) => {
    const cidr = parseCidr(value);
    if (cidr === undefined) return `${JSON.stringify(value)} is not an IP address or CIDR`;
    return (v) => {
      const ip = pick(v);
      return ip !== undefined && cidrContains(cidr, ip);
    };
  });
}

function portAttr(key: string): Attribute {
  return attr(key, false, (value) => {
    if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) return `${JSON.stringify(value)} is not a port number`;
    const port = Number(value);
    return (v) => v.ctx.destination.port === port;
  });
}

/** Header-style matching: `*` means present (even empty); otherwise Istio string matching. */
function headerValuePredicate(value: string, read: (v: ContextView) => string | undefined): Predicate {
  if (value === "*") return (v) => read(v) !== undefined;
  const p = stringPattern(value);
  return (v) => matchString(p, read(v));
}

/** JWT claim values: a string claim matches itself, a list claim when any string element matches. */
function claimPredicate(value: string, read: (v: ContextView) => unknown): Predicate {
  const p = stringPattern(value);
  return (v) => {
    const c = read(v);
    if (typeof c === "string") return matchString(p, c);
    if (Array.isArray(c)) return c.some((e) => typeof e === "string" && matchString(p, e));
    return false;
  };
}

function claimAt(v: ContextView, path: readonly string[]): unknown {
  let cur: unknown = v.ctx.request?.auth?.claims;
  for (const k of path) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

const authed = (v: ContextView) => v.ctx.request?.auth;

export const SOURCE_PRINCIPAL = attr("source.principal", false, (value) => {
  const m = principalPattern(value);
  return (v) => m(v.peerUri);
});

export const SOURCE_NAMESPACE = attr("source.namespace", false, (value) => {
  const m = namespacePattern(value);
  return (v) => m(v.peerUri);
});

export function sourceServiceAccount(policyNamespace: string): Attribute {
  return attr("source.serviceAccount", false, (value) => {
    if (value.includes("*")) return `"*" is not allowed in service accounts`;
    const m = serviceAccountPattern(value, policyNamespace);
    return (v) => m(v.peerUri);
  });
}

export const SOURCE_TRUST_DOMAIN = attr("source.trustDomain", false, (value) => {
  const p = stringPattern(value);
  return (v) => matchString(p, trustDomainOf(v.peerUri));
});

export const SOURCE_IP = cidrAttr("source.ip", (v) => v.sourceIp);
export const REMOTE_IP = cidrAttr("remote.ip", (v) => v.remoteIp);
export const DESTINATION_IP = cidrAttr("destination.ip", (v) => v.destinationIp);
export const DESTINATION_PORT = portAttr("destination.port");

export const CONNECTION_SNI = attr("connection.sni", false, (value) => {
  const p = stringPattern(value);
  return (v) => matchString(p, v.ctx.connection?.sni);
});

export const REQUEST_PRINCIPAL = attr("request.auth.principal", true, (value) => {
  const m = requestPrincipalPattern(value);
  return (v) => m(v.issuer, v.subject);
});

export const REQUEST_AUDIENCES = attr("request.auth.audiences", true, (value) =>
  claimPredicate(value, (v) => {
    const auth = authed(v);
    if (auth === undefined) return undefined;
    return auth.audiences ?? auth.claims?.["aud"];
  }),
);

export const REQUEST_PRESENTER = attr("request.auth.presenter", true, (value) =>
  claimPredicate(value, (v) => {
    const auth = authed(v);
    if (auth === undefined) return undefined;
    return auth.presenter ?? auth.claims?.["azp"];
  }),
);

export function requestClaim(key: string, path: readonly string[]): Attribute {
  return attr(key, true, (value) => claimPredicate(value, (v) => claimAt(v, path)));
}

/** Envoy exposes these pseudo-headers to header matchers; `host` is `:authority` there. */
function headerReader(lower: string): (v: ContextView) => string | undefined {
  switch (lower) {
    case ":authority":
    case "host":
      return (v) => v.ctx.request?.host;
    case ":method":
      return (v) => v.ctx.request?.method;
    case ":path":
      return (v) => v.ctx.request?.path;
    default:
      return (v) => v.ctx.request?.headers.get(lower);
  }
}

export function requestHeader(key: string, name: string): Attribute {
  const read = headerReader(name.toLowerCase());
  return attr(key, true, (value) => headerValuePredicate(value, read));
}

export const HOSTS = attr("hosts", true, (value) => {
  // Compared with the whole `:authority`, port included, case-insensitively (Istio's HostMatcher): use `example.com:*` for any port.
  if (value === "*") return (v) => v.ctx.request !== undefined;
  const p = stringPattern(value, true);
  return (v) => matchString(p, v.ctx.request?.host);
});

export const METHODS = attr("methods", true, (value) => headerValuePredicate(value, (v) => v.ctx.request?.method));

export const PATHS = attr("paths", true, (value) => {
  const m = compilePathValue(value);
  if (m === undefined) return `${JSON.stringify(value)} is not a valid path template ({*} and {**} must be whole segments, {**} last)`;
  return (v) => {
    const path = v.path;
    return path !== undefined && m(path);
  };
});

/** Envoy filter metadata does not exist in Strait: the attribute can never be evaluated. */
export function unsupported(key: string, why: string): Attribute {
  return attr(key, false, () => why);
}

/** `[a][b]` -> `["a", "b"]`; undefined when malformed. */
export function bracketNames(text: string): string[] | undefined {
  const out: string[] = [];
  let rest = text;
  while (rest.length > 0) {
    if (!rest.startsWith("[")) return undefined;
    const close = rest.indexOf("]");
    if (close <= 1) return undefined;
    const name = rest.slice(1, close);
    if (name.includes("[")) return undefined;
    out.push(name);
    rest = rest.slice(close + 1);
  }
  return out.length === 0 ? undefined : out;
}

/** The attribute for a `when` key, or a string saying why the key is refused. */
export function whenAttribute(key: string, policyNamespace: string): Attribute | string {
  switch (key) {
    case "source.ip":
      return SOURCE_IP;
    case "remote.ip":
      return REMOTE_IP;
    case "source.namespace":
      return SOURCE_NAMESPACE;
    case "source.principal":
      return SOURCE_PRINCIPAL;
    case "source.serviceAccount":
      return sourceServiceAccount(policyNamespace);
    case "source.trustDomain":
      return SOURCE_TRUST_DOMAIN;
    case "request.auth.principal":
      return REQUEST_PRINCIPAL;
    case "request.auth.audiences":
      return REQUEST_AUDIENCES;
    case "request.auth.presenter":
      return REQUEST_PRESENTER;
    case "destination.ip":
      return DESTINATION_IP;
    case "destination.port":
      return DESTINATION_PORT;
    case "connection.sni":
      return CONNECTION_SNI;
  }
  if (key.startsWith("request.headers")) {
    const names = bracketNames(key.slice("request.headers".length));
    if (names === undefined || names.length !== 1) return `malformed header key ${JSON.stringify(key)}`;
    return requestHeader(key, names[0]!);
  }
  if (key.startsWith("request.auth.claims")) {
    const names = bracketNames(key.slice("request.auth.claims".length));
    if (names === undefined) return `malformed claim key ${JSON.stringify(key)}`;
    return requestClaim(key, names);
  }
  if (key.startsWith("experimental.envoy.filters.")) {
    return unsupported(key, `${key}: Envoy filter metadata is not supported by Strait`);
  }
  return `unknown attribute ${JSON.stringify(key)}`;
}
