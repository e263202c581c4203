/**
 * Divergences from Istio found reviewing validation against
 * istio-semantics.md; each table pins the Istio behaviour.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { validateResource } from "../../../src/core/config/validate.ts";
import { compileRe2, re2Problem } from "../../../src/core/config/regex.ts";
import { field } from "../../../src/core/config/validation/report.ts";

const NET = "networking.istio.io/v1";

function vsWithHeaders(headers: Record<string, unknown>, key: "headers" | "withoutHeaders" = "headers") {
  return {
    apiVersion: NET,
    kind: "VirtualService",
    metadata: { name: "claims", namespace: "shop" },
    spec: {
      hosts: ["shop.example.com"],
      gateways: ["edge"],
      http: [{ match: [{ [key]: headers }], route: [{ destination: { host: "reviews" } }] }],
    },
  };
}

// §2.15 / §2.3: at gateways a VS may route on JWT claims through `@request.auth.claims.<name>`
// (pilot ValidateHTTPHeaderNameOrJwtClaimRoute); claim names keep their case.
const claimRoutes: { name: string; header: string; key?: "headers" | "withoutHeaders"; error?: string }[] = [
  { name: "dot form", header: "@request.auth.claims.groups" },
  { name: "nested dot form", header: "@request.auth.claims.realm.roles" },
  { name: "bracket form", header: "@request.auth.claims[nested][key]" },
  { name: "case kept in claim names", header: "@request.auth.claims.preferredUserName" },
  { name: "in withoutHeaders", header: "@request.auth.claims.groups", key: "withoutHeaders" },
  { name: "no claim named", header: "@request.auth.claims", error: "is not a valid header name" },
  { name: "empty claim", header: "@request.auth.claims.", error: "is not a valid header name" },
  { name: "empty bracket", header: "@request.auth.claims[]", error: "is not a valid header name" },
  { name: "other pseudo prefix", header: "@request.headers.x", error: "is not a valid header name" },
  // Istio's validHeaderNameRegex takes any HTTP token, upper case included (matching is case-insensitive on the wire).
  { name: "plain header in upper case", header: "X-Env" },
];

for (const c of claimRoutes) {
  test(`match header ${c.name}: ${c.header} is ${c.error === undefined ? "accepted" : "refused"}`, () => {
    const key = c.key ?? "headers";
    const r = validateResource(vsWithHeaders({ [c.header]: { exact: "admin" } }, key));
    if (c.error === undefined) {
      assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
      return;
    }
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.errors.map((e) => e.path), [field(`spec.http[0].match[0].${key}`, c.header)]);
    assert.ok(r.errors[0]!.message.includes(c.error), r.errors[0]!.message);
  });
}

// §2.3: regex is RE2 and must match the WHOLE value (Envoy safe_regex full match).
const regexes: { name: string; pattern: string; input: string; matches: boolean }[] = [
  { name: "(?m) does not let ^/$ stop at a line break", pattern: "(?m)abc", input: "abc\nxyz", matches: false },
  { name: "(?m) still matches the whole value", pattern: "(?m)abc", input: "abc", matches: true },
  { name: "(?m) with explicit anchors needs the whole value", pattern: "(?m)^a$", input: "a\nb", matches: false },
  { name: "\\A and \\z are text anchors, not letters", pattern: "\\Afoo\\z", input: "foo", matches: true },
  { name: "\\A is not the letter A", pattern: "\\Afoo", input: "Afoo", matches: false },
  { name: "\\z is not the letter z", pattern: "foo\\z", input: "fooz", matches: false },
  { name: "escaped backslash before A stays literal", pattern: "a\\\\A", input: "a\\A", matches: true },
  { name: "leading ] in a class is a member", pattern: "[]a]+", input: "]a]", matches: true },
  { name: "leading ] in a negated class is a member", pattern: "[^]]x", input: "]x", matches: false },
  { name: "alternation is anchored as a whole", pattern: "a|b", input: "ab", matches: false },
  { name: "prefix-like regex needs the rest", pattern: "/api", input: "/api/v1", matches: false },
];

for (const c of regexes) {
  test(`RE2 full match: ${c.name}`, () => {
    assert.equal(re2Problem(c.pattern), undefined);
    assert.equal(compileRe2(c.pattern).test(c.input), c.matches);
  });
}

test("RE2 full match: \\A inside a character class is refused with a reason", () => {
  // RE2 (Go's regexp, which Istio's webhook compiles with) refuses it as an invalid escape.
  assert.match(re2Problem("[\\A]") ?? "", /invalid escape sequence/);
});

// pilot validateServer: HTTPS/TLS need `tls` (unset mode = PASSTHROUGH, accepted with a warning);
// plain-text servers may only carry a passthrough/httpsRedirect stub; TCP/MONGO none at all.
const servers: { name: string; protocol: string; tls?: Record<string, unknown>; error?: string; warning?: string }[] = [
  { name: "HTTPS without tls", protocol: "HTTPS", error: "server must have TLS settings for HTTPS/TLS protocols" },
  { name: "HTTPS with credentialName and no mode (PASSTHROUGH)", protocol: "HTTPS", tls: { credentialName: "shop-cert" }, warning: "PASSTHROUGH mode does not use certificates" },
  { name: "TLS with mode PASSTHROUGH", protocol: "TLS", tls: { mode: "PASSTHROUGH" } },
  { name: "HTTPS with SIMPLE and a credential", protocol: "HTTPS", tls: { mode: "SIMPLE", credentialName: "shop-cert" } },
  { name: "HTTP with httpsRedirect", protocol: "HTTP", tls: { httpsRedirect: true } },
  { name: "HTTP with SIMPLE tls", protocol: "HTTP", tls: { mode: "SIMPLE", credentialName: "shop-cert" }, error: "server cannot have TLS settings for plain text HTTP ports" },
  { name: "HTTP with a passthrough stub carrying a key file", protocol: "HTTP", tls: { privateKey: "/etc/key.pem" }, error: "server cannot have TLS settings for plain text HTTP ports" },
  { name: "TCP with any tls", protocol: "TCP", tls: { httpsRedirect: true }, error: "server cannot have TLS settings for non HTTPS/TLS ports" },
];

for (const c of servers) {
  test(`gateway server ${c.name} is ${c.error === undefined ? "accepted" : "refused"}`, () => {
    const server: Record<string, unknown> = { port: { number: 443, name: "p", protocol: c.protocol }, hosts: ["shop.example.com"] };
    if (c.tls !== undefined) server.tls = c.tls;
    const r = validateResource({ apiVersion: NET, kind: "Gateway", metadata: { name: "edge", namespace: "ingress" }, spec: { servers: [server] } });
    if (c.error === undefined) {
      assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
      if (!r.ok) return;
      if (c.warning === undefined) assert.deepEqual(r.warnings, []);
      else assert.ok(r.warnings.some((w) => w.path === "spec.servers[0].tls" && w.message.includes(c.warning!)), JSON.stringify(r.warnings));
      return;
    }
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.errors.map((e) => e.path), ["spec.servers[0].tls"]);
    assert.ok(r.errors[0]!.message.includes(c.error), r.errors[0]!.message);
  });
}
