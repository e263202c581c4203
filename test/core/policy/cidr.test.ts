import { test } from "node:test";
import assert from "node:assert/strict";
import { cidrContains, parseCidr, parseIp } from "../../../src/core/policy/index.ts";
import { compilePathTemplate, normalizePolicyPath, normalizeRequestPath, rejectedPathReason } from "../../../src/core/policy/authorization/path-match.ts";
import { globMatch } from "../../../src/core/policy/string-match.ts";

const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : [...b].map((x) => x.toString(16).padStart(2, "0")).join(""));

test("IPv4 parsing is strict", () => {
  assert.equal(hex(parseIp("10.1.2.3")), "0a010203");
  assert.equal(hex(parseIp("0.0.0.0")), "00000000");
  assert.equal(hex(parseIp("255.255.255.255")), "ffffffff");
  for (const bad of ["256.0.0.1", "10.1.2", "10.1.2.3.4", "010.1.2.3", "1.2.3.-1", "1..2.3", "", " 1.2.3.4", "1.2.3.4 ", "a.b.c.d", "1.2.3.4/8"]) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

test("IPv6 parsing: compression, embedded IPv4, mapped addresses", () => {
  assert.equal(hex(parseIp("::1")), "00000000000000000000000000000001");
  assert.equal(hex(parseIp("::")), "00000000000000000000000000000000");
  assert.equal(hex(parseIp("2001:db8::8:800:200c:417a")), "20010db8000000000008080020 0c417a".replace(" ", ""));
  assert.equal(hex(parseIp("2001:DB8:0:0:0:0:0:1")), "20010db8000000000000000000000001");
  assert.equal(hex(parseIp("64:ff9b::192.0.2.33")), "0064ff9b0000000000000000c0000221");
  // IPv4-mapped IPv6 is the IPv4 address (dual-stack sockets report peers this way).
  assert.equal(hex(parseIp("::ffff:10.1.2.3")), "0a010203");
  assert.equal(hex(parseIp("::ffff:a01:203")), "0a010203");
  for (const bad of ["1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "::g", "fe80::1%eth0", "[::1]", ":::", "1:2:3:4:5:6:7", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4"]) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

test("CIDR containment, v4 and v6, host bits cleared, families never mix", () => {
  const has = (cidr: string, ip: string) => cidrContains(parseCidr(cidr)!, parseIp(ip)!);
  assert.ok(has("10.0.0.0/8", "10.255.1.1"));
  assert.ok(!has("10.0.0.0/8", "11.0.0.1"));
  assert.ok(has("10.1.2.3/8", "10.9.9.9"), "host bits are ignored");
  assert.ok(has("192.168.1.7", "192.168.1.7"));
  assert.ok(!has("192.168.1.7", "192.168.1.8"));
  assert.ok(has("192.168.0.0/23", "192.168.1.255"));
  assert.ok(!has("192.168.0.0/23", "192.168.2.0"));
  assert.ok(has("0.0.0.0/0", "8.8.8.8"));
  assert.ok(!has("0.0.0.0/0", "2001:db8::1"));
  assert.ok(!has("::/0", "8.8.8.8"));
  assert.ok(has("::/0", "2001:db8::1"));
  assert.ok(has("2001:db8::/32", "2001:db8:ffff::1"));
  assert.ok(!has("2001:db8::/33", "2001:db8:8000::1"));
  assert.ok(has("2001:db8::/33", "2001:db8:7fff::1"));
  assert.ok(has("::ffff:10.0.0.0/104", "10.20.30.40"), "a mapped block is the IPv4 block");
  for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/a", "/8", "10.0.0.0/8/8"]) assert.equal(parseCidr(bad), undefined, bad);
});

test("path templates follow Envoy's uri_template", () => {
  const m = (t: string, p: string) => compilePathTemplate(t)!(p);
  assert.ok(m("/a/{*}/c", "/a/b/c"));
  assert.ok(!m("/a/{*}/c", "/a//c"));
  assert.ok(!m("/a/{*}/c", "/a/b/x/c"));
  assert.ok(!m("/a/{*}", "/a/b/"));
  assert.ok(m("/a/{**}", "/a/b/c/d"));
  assert.ok(m("/a/{**}", "/a/"));
  assert.ok(!m("/a/{**}", "/a"));
  assert.ok(m("/{*}/example/{*}/{**}", "/x/example/y/z/w"));
  assert.ok(m("/{**}/edit", "/x/y/edit"));
  assert.ok(!m("/{**}/edit", "/x/y/view"));
  assert.ok(!m("/a/{*}", "/a/b*c"), "'*' is not a segment character");
  assert.equal(compilePathTemplate("/a/{**}/{*}"), undefined, "{**} must be last");
  assert.equal(compilePathTemplate("/a/b{*}"), undefined, "operators are whole segments");
  assert.equal(compilePathTemplate("a/{*}"), undefined);
});

test("BASE normalization: unreserved escapes decoded once, backslashes, %2f kept, query kept for upstream", () => {
  assert.equal(normalizeRequestPath("/some%2fdata/%61%62%63"), "/some%2fdata/abc", "%2f is decoded only by DECODE_AND_MERGE_SLASHES");
  assert.equal(normalizeRequestPath("/%41%2D%5f%7E%30"), "/A-_~0");
  assert.equal(normalizeRequestPath("/a%252e%252e/b"), "/a%252e%252e/b", "no double decoding");
  assert.equal(normalizeRequestPath("/some\\data"), "/some/data");
  assert.equal(normalizeRequestPath("/public/./data/abc/../xyz?q=/../x"), "/public/data/xyz?q=/../x");
  assert.equal(normalizeRequestPath("/a/%2e%2E/b"), "/b");
  assert.equal(normalizeRequestPath("/a%zz/%4"), "/a%zz/%4", "malformed escapes are left alone");
  assert.equal(normalizePolicyPath("/%61dmin?x=1"), "/admin");
  assert.equal(rejectedPathReason("/a%00b"), "the path contains an encoded NUL (%00)");
  assert.equal(rejectedPathReason("/a?b=%00"), undefined);
});

test("policy path normalization: query dropped, dot segments resolved", () => {
  assert.equal(normalizePolicyPath("/a/b?x=/admin"), "/a/b");
  assert.equal(normalizePolicyPath("/a/./b/../c"), "/a/c");
  assert.equal(normalizePolicyPath("/../../etc"), "/etc");
  assert.equal(normalizePolicyPath("/a/%2E%2e/b"), "/b");
  assert.equal(normalizePolicyPath("/a/.."), "/");
  assert.equal(normalizePolicyPath("/a//b"), "/a//b", "slashes are not merged (BASE)");
  assert.equal(normalizePolicyPath(""), "/");
});

test("glob matching (namespaces) completes on adversarial input without a regex", () => {
  // A backtracking regex such as /^.*a.*a.*a.*a.*a.*a.*a.*a.*b$/ does not finish on this input;
  // the glob keeps only the last star and finishes in O(pattern x value).
  assert.equal(globMatch("*a*a*a*a*a*a*a*a*b", "a".repeat(5000)), false);
  assert.ok(globMatch("*/ns/def*/*", "spiffe://cluster.local/ns/default/sa/x"));
  assert.ok(!globMatch("*/ns/def*/*", "spiffe://cluster.local/ns/dev/sa/x"));
});
