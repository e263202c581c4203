/**
 * SPIFFE ID parsing and construction, per the SPIFFE ID standard (SPIFFE-ID.md).
 *
 * Canonical form only: `spiffe://<trust-domain><path>` with a lowercase scheme and
 * trust domain. Non-canonical input such as `Spiffe://td` or `spiffe://TD` is
 * rejected rather than lowercased (checklist item 18, the go-spiffe behaviour), so a
 * valid ID has exactly one spelling and IDs compare as exact strings (item 19).
 *
 * Runtime-free: no Web or Node APIs beyond `TextEncoder`.
 */
import { InvalidSpiffeIdError } from "./errors.ts";

/** Trust domain used when none is configured. */
export const DEFAULT_TRUST_DOMAIN = "strait.local";

const SCHEME_PREFIX = "spiffe://";
/** SPIFFE-ID.md §2.3: verifiers must accept IDs of up to 2048 bytes; longer ones we reject. */
export const MAX_SPIFFE_ID_BYTES = 2048;
/** SPIFFE-ID.md §2.3: a trust domain name is at most 255 bytes. */
export const MAX_TRUST_DOMAIN_BYTES = 255;

const encoder = new TextEncoder();

/** UTF-8 length; an ASCII string (every valid SPIFFE ID) is measured without encoding it. */
function byteLength(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return encoder.encode(s).byteLength;
  return s.length;
}

function isTrustDomainChar(c: string): boolean {
  return (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c === "." || c === "-" || c === "_";
}

function isPathSegmentChar(c: string): boolean {
  return (
    (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c === "." || c === "-" || c === "_"
  );
}

/** Returns why a trust domain name is invalid, or undefined when it is valid. */
function trustDomainProblem(td: string): string | undefined {
  if (td.length === 0) return "trust domain is missing";
  for (const c of td) {
    if (isTrustDomainChar(c)) continue;
    if (c >= "A" && c <= "Z") {
      return "trust domain must be lowercase: non-canonical input is rejected, not lowercased";
    }
    if (c === "@") return "trust domain cannot contain userinfo ('@')";
    if (c === ":") return "trust domain cannot contain a port (':')";
    if (c === "%") return "trust domain cannot contain percent-encoding ('%')";
    if (c === "?" || c === "#") return "SPIFFE ID cannot contain a query or fragment";
    if (c === "[" || c === "]") return "trust domain cannot be an IPv6 literal";
    return "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores";
  }
  if (byteLength(td) > MAX_TRUST_DOMAIN_BYTES) return `trust domain is longer than ${MAX_TRUST_DOMAIN_BYTES} bytes`;
  return undefined;
}

/** Returns why a single path segment (without slashes) is invalid, or undefined. */
function segmentProblem(segment: string): string | undefined {
  if (segment.length === 0) return "path cannot contain empty segments";
  if (segment === "." || segment === "..") return "path cannot contain dot segments";
  for (const c of segment) {
    if (isPathSegmentChar(c)) continue;
    if (c === "%") return "path cannot contain percent-encoding ('%')";
    if (c === "?" || c === "#") return "SPIFFE ID cannot contain a query or fragment";
    return "path segment characters are limited to letters, numbers, dots, dashes, and underscores";
  }
  return undefined;
}

/** Returns why a path ("" or "/a/b") is invalid, or undefined. */
function pathProblem(path: string): string | undefined {
  if (path === "") return undefined;
  if (!path.startsWith("/")) return "path must have a leading slash";
  const segments = path.slice(1).split("/");
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? "";
    // An empty last segment means the path ends in "/" (e.g. "spiffe://td/" or "/a/").
    if (segment === "" && i === segments.length - 1) return "path cannot have a trailing slash";
    const problem = segmentProblem(segment);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * A validated SPIFFE ID. Instances only come from {@link SpiffeId.parse} or
 * {@link SpiffeId.fromPath}, so every instance is canonical.
 *
 * @example
 * const id = SpiffeId.parse("spiffe://strait.local/ns/default/sa/web");
 * id.trustDomain; // "strait.local"
 * id.path;        // "/ns/default/sa/web"
 */
export class SpiffeId {
  /** Lowercase trust domain name, e.g. `strait.local`. */
  readonly trustDomain: string;
  /** `""` (the trust domain's own ID) or `/seg/seg`. Case-sensitive. */
  readonly path: string;

  private constructor(trustDomain: string, path: string) {
    this.trustDomain = trustDomain;
    this.path = path;
  }

  /**
   * Parses a SPIFFE ID string. Throws {@link InvalidSpiffeIdError} (message in the
   * spec's words) for anything outside SPIFFE-ID.md §2, for non-canonical
   * (uppercase) scheme or trust domain, and for IDs over 2048 bytes.
   */
  static parse(id: string): SpiffeId {
    // Untrusted JSON can carry any type; that is the client's mistake, never a 500.
    if (typeof id !== "string") throw new InvalidSpiffeIdError("SPIFFE ID must be a string");
    if (id.length === 0) throw new InvalidSpiffeIdError("SPIFFE ID cannot be empty");
    if (byteLength(id) > MAX_SPIFFE_ID_BYTES) {
      throw new InvalidSpiffeIdError(`SPIFFE ID is longer than ${MAX_SPIFFE_ID_BYTES} bytes`);
    }
    if (!id.startsWith(SCHEME_PREFIX)) {
      if (id.slice(0, SCHEME_PREFIX.length).toLowerCase() === SCHEME_PREFIX) {
        throw new InvalidSpiffeIdError(
          "scheme is missing or invalid: it must be lowercase 'spiffe://' (non-canonical input is rejected)",
        );
      }
      throw new InvalidSpiffeIdError("scheme is missing or invalid: a SPIFFE ID starts with 'spiffe://'");
    }
    const rest = id.slice(SCHEME_PREFIX.length);
    const slash = rest.indexOf("/");
    const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
    const path = slash === -1 ? "" : rest.slice(slash);
    const tdProblem = trustDomainProblem(trustDomain);
    if (tdProblem !== undefined) throw new InvalidSpiffeIdError(tdProblem);
    const pProblem = pathProblem(path);
    if (pProblem !== undefined) throw new InvalidSpiffeIdError(pProblem);
    return new SpiffeId(trustDomain, path);
  }

  /**
   * Builds a SPIFFE ID from a trust domain name and a path (`""` or `/a/b`).
   * @example SpiffeId.fromPath("strait.local", "/node/c1/n1").toString() // "spiffe://strait.local/node/c1/n1"
   */
  static fromPath(trustDomain: string, path: string): SpiffeId {
    const td = parseTrustDomain(trustDomain);
    const problem = pathProblem(path);
    if (problem !== undefined) throw new InvalidSpiffeIdError(problem);
    const id = new SpiffeId(td, path);
    if (byteLength(id.toString()) > MAX_SPIFFE_ID_BYTES) {
      throw new InvalidSpiffeIdError(`SPIFFE ID is longer than ${MAX_SPIFFE_ID_BYTES} bytes`);
    }
    return id;
  }

  toString(): string {
    return `${SCHEME_PREFIX}${this.trustDomain}${this.path}`;
  }

  toJSON(): string {
    return this.toString();
  }

  /** Exact comparison of the canonical forms; the path is case-sensitive. */
  equals(other: SpiffeId): boolean {
    return this.trustDomain === other.trustDomain && this.path === other.path;
  }

  /** True when this ID belongs to the given trust domain name (exact match). */
  isMemberOf(trustDomain: string): boolean {
    return this.trustDomain === trustDomain;
  }

  /** Path segments, e.g. `["ns", "default", "sa", "web"]`; `[]` for the trust domain's own ID. */
  segments(): string[] {
    return this.path === "" ? [] : this.path.slice(1).split("/");
  }
}

/**
 * Validates a bare trust domain name (`strait.local`, not `spiffe://strait.local`)
 * and returns it. Throws {@link InvalidSpiffeIdError}.
 */
export function parseTrustDomain(td: string): string {
  if (typeof td !== "string") throw new InvalidSpiffeIdError("trust domain must be a string", { field: "trustDomain" });
  const problem = trustDomainProblem(td);
  if (problem !== undefined) throw new InvalidSpiffeIdError(problem, { field: "trustDomain" });
  return td;
}

function checkSegment(value: string, field: string): void {
  const problem = typeof value === "string" ? segmentProblem(value) : `${field} must be a string`;
  if (problem !== undefined) throw new InvalidSpiffeIdError(`${field}: ${problem}`, { field });
}

/**
 * The Istio-shaped workload identity `spiffe://<td>/ns/<namespace>/sa/<serviceAccount>`.
 * Throws {@link InvalidSpiffeIdError} with `field` set when a part is not a valid path segment.
 */
export function workloadId(td: string, namespace: string, serviceAccount: string): SpiffeId {
  checkSegment(namespace, "namespace");
  checkSegment(serviceAccount, "serviceAccount");
  return SpiffeId.fromPath(td, `/ns/${namespace}/sa/${serviceAccount}`);
}

/** The node (proxy) identity `spiffe://<td>/node/<cluster>/<node>`. */
export function nodeId(td: string, cluster: string, node: string): SpiffeId {
  checkSegment(cluster, "cluster");
  checkSegment(node, "node");
  return SpiffeId.fromPath(td, `/node/${cluster}/${node}`);
}

/** Cluster and node of a node ID, or undefined if the ID is not shaped `/node/<cluster>/<node>`. */
export function parseNodeId(id: SpiffeId): { cluster: string; node: string } | undefined {
  const [kind, cluster, node, ...extra] = id.segments();
  if (kind !== "node" || cluster === undefined || node === undefined || extra.length > 0) return undefined;
  return { cluster, node };
}

/** Namespace and service account of a workload ID, or undefined if not shaped `/ns/<ns>/sa/<sa>`. */
export function parseWorkloadId(id: SpiffeId): { namespace: string; serviceAccount: string } | undefined {
  const [ns, namespace, sa, serviceAccount, ...extra] = id.segments();
  if (ns !== "ns" || sa !== "sa" || namespace === undefined || serviceAccount === undefined || extra.length > 0) {
    return undefined;
  }
  return { namespace, serviceAccount };
}
