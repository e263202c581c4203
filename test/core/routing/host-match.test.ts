/** Host matching helpers shared by the gateway and the node proxy. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { hostMatchesPattern, stripPort, virtualHostLookup } from "../../../src/core/routing/index.ts";

test("host: stripPort lowercases and drops the port, IPv6 brackets kept", () => {
  assert.deepEqual(
    ["Shop.Example.com:8443", "shop.example.com", "[::1]:8080", "[::1]", "::1", "10.0.0.1:80"].map(stripPort),
    ["shop.example.com", "shop.example.com", "[::1]", "[::1]", "::1", "10.0.0.1"],
  );
});

test("host: wildcard patterns, port ignored", () => {
  const cases: [string, string, boolean][] = [
    ["*.example.com", "a.example.com:12345", true],
    ["*.example.com", "a.b.example.com", true],
    ["*.example.com", "example.com", false],
    ["*", "anything:1", true],
    ["shop.example.com", "SHOP.example.com:80", true],
    ["shop.example.com", "shop.example.org", false],
  ];
  for (const [p, a, want] of cases) assert.equal(hostMatchesPattern(p, a), want, `${p} vs ${a}`);
});

test("host: virtual host selection prefers exact, then the longest wildcard, then *", () => {
  const entries: [string, string][] = [
    ["*", "any"],
    ["*.example.com", "wide"],
    ["*.api.example.com", "narrow"],
    ["www.example.com", "exact"],
  ];
  assert.equal(virtualHostLookup(entries, "www.example.com:443"), "exact");
  assert.equal(virtualHostLookup(entries, "v1.api.example.com"), "narrow");
  assert.equal(virtualHostLookup(entries, "api.example.com"), "wide");
  assert.equal(virtualHostLookup(entries, "example.org"), "any");
  assert.equal(virtualHostLookup(entries.slice(1), "example.org"), undefined);
});
