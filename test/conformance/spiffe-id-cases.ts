/**
 * Shared SPIFFE ID conformance table (checklist section A). Plain data with no
 * runtime imports, so the same suite can run on Node, in workerd and on Deno.
 * `items` name the checklist numbers a case proves; `error` is a substring of the
 * expected InvalidSpiffeIdError message.
 */
export interface ValidSpiffeIdCase {
  id: string;
  trustDomain: string;
  path: string;
  items: number[];
}

export interface InvalidSpiffeIdCase {
  id: string;
  error: string;
  items: number[];
}

export interface InvalidPathCase {
  trustDomain: string;
  path: string;
  error: string;
  items: number[];
}

const LONG_SEGMENT = "a".repeat(200);

/** 2048 bytes exactly: "spiffe://td" (11) + path of 2037 bytes. */
export const MAX_LENGTH_ID = `spiffe://td/${"a".repeat(2048 - "spiffe://td/".length)}`;
/** 2049 bytes. */
export const OVER_MAX_LENGTH_ID = `${MAX_LENGTH_ID}b`;
/** A 255-byte trust domain, the most §2.3 allows. */
export const MAX_TRUST_DOMAIN = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}`;

export const validSpiffeIds: ValidSpiffeIdCase[] = [
  { id: "spiffe://td", trustDomain: "td", path: "", items: [10] },
  { id: "spiffe://example.org", trustDomain: "example.org", path: "", items: [10, 22] },
  { id: "spiffe://strait.local/ns/default/sa/web", trustDomain: "strait.local", path: "/ns/default/sa/web", items: [1] },
  { id: "spiffe://td-1_x.y/a/b/c", trustDomain: "td-1_x.y", path: "/a/b/c", items: [4] },
  { id: "spiffe://1.2.3.4/x", trustDomain: "1.2.3.4", path: "/x", items: [8] },
  { id: "spiffe://td/Service", trustDomain: "td", path: "/Service", items: [16, 17] },
  { id: "spiffe://td/.path", trustDomain: "td", path: "/.path", items: [14] },
  { id: "spiffe://td/..path", trustDomain: "td", path: "/..path", items: [14] },
  { id: "spiffe://td/...", trustDomain: "td", path: "/...", items: [14] },
  { id: "spiffe://td/a.b/-_/AZaz09", trustDomain: "td", path: "/a.b/-_/AZaz09", items: [16] },
  { id: `spiffe://td/${LONG_SEGMENT}/${LONG_SEGMENT}`, trustDomain: "td", path: `/${LONG_SEGMENT}/${LONG_SEGMENT}`, items: [20] },
  { id: MAX_LENGTH_ID, trustDomain: "td", path: MAX_LENGTH_ID.slice("spiffe://td".length), items: [20] },
  { id: `spiffe://${MAX_TRUST_DOMAIN}/x`, trustDomain: MAX_TRUST_DOMAIN, path: "/x", items: [20] },
];

export const invalidSpiffeIds: InvalidSpiffeIdCase[] = [
  { id: "", error: "cannot be empty", items: [2] },
  { id: "spiffe:/td", error: "scheme is missing or invalid", items: [1] },
  { id: "spiffe:td", error: "scheme is missing or invalid", items: [1] },
  { id: "http://td/x", error: "scheme is missing or invalid", items: [1] },
  { id: "xspiffe://td/x", error: "scheme is missing or invalid", items: [1] },
  { id: "td/x", error: "scheme is missing or invalid", items: [1] },
  { id: "Spiffe://td/x", error: "must be lowercase 'spiffe://'", items: [18] },
  { id: "SPIFFE://td/x", error: "must be lowercase 'spiffe://'", items: [18] },
  { id: "spiffe://TD-A/x", error: "trust domain must be lowercase", items: [4, 18] },
  { id: "spiffe://Example.org", error: "trust domain must be lowercase", items: [4, 18] },
  { id: "spiffe://", error: "trust domain is missing", items: [3] },
  { id: "spiffe:///", error: "trust domain is missing", items: [3] },
  { id: "spiffe:///path", error: "trust domain is missing", items: [3] },
  { id: "spiffe://exämple.org/x", error: "trust domain characters are limited", items: [4] },
  { id: "spiffe://td+x/x", error: "trust domain characters are limited", items: [4] },
  { id: "spiffe://td x/x", error: "trust domain characters are limited", items: [4] },
  { id: "spiffe://user@td/x", error: "userinfo", items: [5] },
  { id: "spiffe://user:pass@td/x", error: "trust domain cannot contain", items: [5] },
  { id: "spiffe://td:8080/x", error: "port", items: [6] },
  { id: "spiffe://1.2.3.4:8443/x", error: "port", items: [6] },
  { id: "spiffe://%62%61%64/path", error: "percent-encoding", items: [7] },
  { id: "spiffe://example%2eorg/x", error: "percent-encoding", items: [7] },
  { id: "spiffe://[::1]/x", error: "IPv6", items: [8] },
  { id: "spiffe://td?q=1", error: "query or fragment", items: [9] },
  { id: "spiffe://td#frag", error: "query or fragment", items: [9] },
  { id: "spiffe://td/x?q=1", error: "query or fragment", items: [9] },
  { id: "spiffe://td/x#frag", error: "query or fragment", items: [9] },
  { id: "spiffe://td/%F0%9F%A4%AF", error: "percent-encoding", items: [12] },
  { id: "spiffe://td/%62%61%64", error: "percent-encoding", items: [12] },
  { id: "spiffe://td/foo%2Fbar", error: "percent-encoding", items: [12] },
  { id: "spiffe://td/%61pi", error: "percent-encoding", items: [12] },
  { id: "spiffe://td//", error: "empty segments", items: [13] },
  { id: "spiffe://td//path", error: "empty segments", items: [13] },
  { id: "spiffe://td/foo//bar", error: "empty segments", items: [13] },
  { id: "spiffe://td/.", error: "dot segments", items: [14] },
  { id: "spiffe://td/..", error: "dot segments", items: [14] },
  { id: "spiffe://td/a/./b", error: "dot segments", items: [14] },
  { id: "spiffe://td/a/../b", error: "dot segments", items: [14] },
  { id: "spiffe://td/", error: "trailing slash", items: [15] },
  { id: "spiffe://td/path/", error: "trailing slash", items: [15] },
  { id: "spiffe://td/a;b", error: "path segment characters are limited", items: [16] },
  { id: "spiffe://td/a:b", error: "path segment characters are limited", items: [16] },
  { id: "spiffe://td/a@b", error: "path segment characters are limited", items: [16] },
  { id: "spiffe://td/a$b", error: "path segment characters are limited", items: [16] },
  { id: "spiffe://td/a b", error: "path segment characters are limited", items: [16] },
  { id: "spiffe://td/a~b", error: "path segment characters are limited", items: [16] },
  { id: "spiffe://td/a+b", error: "path segment characters are limited", items: [16] },
  { id: "spiffe://td/ünïcode", error: "path segment characters are limited", items: [16] },
  { id: OVER_MAX_LENGTH_ID, error: "longer than 2048 bytes", items: [20, 21] },
  { id: `spiffe://${MAX_TRUST_DOMAIN}a/x`, error: "longer than 255 bytes", items: [20] },
];

/** Building from a trust domain and a path (`SpiffeId.fromPath`). */
export const invalidFromPath: InvalidPathCase[] = [
  { trustDomain: "td", path: "foo", error: "path must have a leading slash", items: [11] },
  { trustDomain: "td", path: "/", error: "trailing slash", items: [15] },
  { trustDomain: "td", path: "/a//b", error: "empty segments", items: [13] },
  { trustDomain: "td", path: "/a/..", error: "dot segments", items: [14] },
  { trustDomain: "td", path: "/%61pi", error: "percent-encoding", items: [12] },
  { trustDomain: "TD", path: "/x", error: "trust domain must be lowercase", items: [18] },
  { trustDomain: "", path: "/x", error: "trust domain is missing", items: [3] },
  { trustDomain: "spiffe://td", path: "/x", error: "trust domain cannot contain a port", items: [4] },
];

/** Pairs that must NOT compare equal: comparison is exact, no normalisation (items 17, 19). */
export const distinctPairs: [string, string, number[]][] = [
  ["spiffe://td/Service", "spiffe://td/service", [17, 19]],
  ["spiffe://td/a", "spiffe://td/a/b", [19]],
  ["spiffe://td", "spiffe://td/x", [19]],
  ["spiffe://td-a/x", "spiffe://td-b/x", [19]],
];
