import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startModuleWorker } from "../support/workerd-module.ts";
import { projectRoot } from "../support/control-worker.ts";
import {
  DEFAULT_TRUST_DOMAIN,
  SpiffeId,
  nodeId,
  parseNodeId,
  parseTrustDomain,
  parseWorkloadId,
  workloadId,
} from "../../src/identity/spiffe-id.ts";
import { InvalidSpiffeIdError } from "../../src/identity/errors.ts";
import { distinctPairs, invalidFromPath, invalidSpiffeIds, validSpiffeIds } from "../conformance/spiffe-id-cases.ts";

function expectInvalid(fn: () => unknown, fragment: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidSpiffeIdError, `expected InvalidSpiffeIdError, got ${String(err)}`);
    assert.equal(err.code, "ERR_SPIFFE_ID_INVALID");
    assert.equal(err.category, "invalid");
    assert.ok(err.message.includes(fragment), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(fragment)}`);
    return true;
  });
}

const label = (id: string): string => (id.length > 80 ? `${id.slice(0, 40)}…(${id.length} bytes)` : JSON.stringify(id));

describe("SPIFFE ID: valid IDs (checklist A)", () => {
  for (const c of validSpiffeIds) {
    test(`items ${c.items.join(",")}: accepts ${label(c.id)}`, () => {
      const id = SpiffeId.parse(c.id);
      assert.equal(id.trustDomain, c.trustDomain);
      assert.equal(id.path, c.path);
      assert.equal(id.toString(), c.id, "round-trips byte for byte");
      assert.ok(SpiffeId.fromPath(c.trustDomain, c.path).equals(id));
    });
  }
});

describe("SPIFFE ID: invalid IDs (checklist A)", () => {
  for (const c of invalidSpiffeIds) {
    test(`items ${c.items.join(",")}: rejects ${label(c.id)}`, () => {
      expectInvalid(() => SpiffeId.parse(c.id), c.error);
    });
  }
  for (const c of invalidFromPath) {
    test(`items ${c.items.join(",")}: fromPath(${JSON.stringify(c.trustDomain)}, ${JSON.stringify(c.path)}) is rejected`, () => {
      expectInvalid(() => SpiffeId.fromPath(c.trustDomain, c.path), c.error);
    });
  }
});

describe("SPIFFE ID: comparison (items 17, 19)", () => {
  for (const [a, b, items] of distinctPairs) {
    test(`items ${items.join(",")}: ${a} != ${b}`, () => {
      assert.equal(SpiffeId.parse(a).equals(SpiffeId.parse(b)), false);
      assert.equal(SpiffeId.parse(b).equals(SpiffeId.parse(a)), false);
    });
  }
  test("item 19: the same canonical string compares equal", () => {
    assert.ok(SpiffeId.parse("spiffe://td/a/b").equals(SpiffeId.fromPath("td", "/a/b")));
  });
  test("item 18: non-canonical input is rejected, not lowercased (go-spiffe behaviour)", () => {
    expectInvalid(() => SpiffeId.parse("spiffe://TD/x"), "non-canonical input is rejected");
    expectInvalid(() => SpiffeId.parse("Spiffe://td/x"), "non-canonical input is rejected");
    expectInvalid(() => parseTrustDomain("Strait.Local"), "trust domain must be lowercase");
  });
  test("isMemberOf is an exact trust domain match", () => {
    const id = SpiffeId.parse("spiffe://strait.local/ns/a/sa/b");
    assert.equal(id.isMemberOf("strait.local"), true);
    assert.equal(id.isMemberOf("strait.local.evil"), false);
    assert.equal(id.isMemberOf("local"), false);
  });
});

describe("trust domain and Strait ID shapes", () => {
  test("parseTrustDomain accepts names and rejects URIs and bad characters", () => {
    assert.equal(parseTrustDomain(DEFAULT_TRUST_DOMAIN), "strait.local");
    expectInvalid(() => parseTrustDomain("spiffe://strait.local"), "trust domain cannot contain a port");
    expectInvalid(() => parseTrustDomain(""), "trust domain is missing");
    expectInvalid(() => parseTrustDomain("a/b"), "trust domain characters are limited");
  });

  test("non-string input from untrusted JSON is an InvalidSpiffeIdError, not a crash", () => {
    for (const v of [42, null, undefined, {}, ["spiffe://td/x"]]) {
      expectInvalid(() => SpiffeId.parse(v as unknown as string), "must be a string");
      expectInvalid(() => parseTrustDomain(v as unknown as string), "must be a string");
    }
  });

  test("item 22: the authority ID is in its own trust domain with no path", () => {
    const authority = SpiffeId.fromPath("strait.local", "");
    assert.equal(authority.toString(), "spiffe://strait.local");
    assert.equal(authority.path, "");
  });

  test("workloadId builds spiffe://td/ns/<ns>/sa/<sa> and parseWorkloadId reads it back", () => {
    const id = workloadId("strait.local", "default", "web");
    assert.equal(id.toString(), "spiffe://strait.local/ns/default/sa/web");
    assert.deepEqual(parseWorkloadId(id), { namespace: "default", serviceAccount: "web" });
    assert.equal(parseNodeId(id), undefined);
  });

  test("nodeId builds spiffe://td/node/<cluster>/<node> and parseNodeId reads it back", () => {
    const id = nodeId("strait.local", "prod-eu", "ip-10-0-0-1.ec2.internal");
    assert.equal(id.toString(), "spiffe://strait.local/node/prod-eu/ip-10-0-0-1.ec2.internal");
    assert.deepEqual(parseNodeId(id), { cluster: "prod-eu", node: "ip-10-0-0-1.ec2.internal" });
    assert.equal(parseWorkloadId(id), undefined);
  });

  test("shape parsers refuse near misses", () => {
    for (const s of ["spiffe://td/ns/a/sa", "spiffe://td/ns/a/sa/b/c", "spiffe://td/NS/a/sa/b", "spiffe://td"]) {
      assert.equal(parseWorkloadId(SpiffeId.parse(s)), undefined, s);
    }
    for (const s of ["spiffe://td/node/c", "spiffe://td/node/c/n/x", "spiffe://td/nodes/c/n"]) {
      assert.equal(parseNodeId(SpiffeId.parse(s)), undefined, s);
    }
  });

  test("builders name the bad field and refuse segments that would change the path shape", () => {
    for (const [ns, sa, field] of [
      ["a/b", "web", "namespace"],
      ["", "web", "namespace"],
      ["..", "web", "namespace"],
      ["default", "w%65b", "serviceAccount"],
      ["default", "", "serviceAccount"],
    ] as const) {
      assert.throws(
        () => workloadId("strait.local", ns, sa),
        (err: unknown) => err instanceof InvalidSpiffeIdError && err.field === field && err.message.startsWith(`${field}:`),
      );
    }
    assert.throws(() => nodeId("strait.local", "c/x", "n"), (err: unknown) => err instanceof InvalidSpiffeIdError && err.field === "cluster");
    assert.throws(() => nodeId("strait.local", "c", "n?x"), (err: unknown) => err instanceof InvalidSpiffeIdError && err.field === "node");
    assert.throws(() => workloadId("Bad", "a", "b"), (err: unknown) => err instanceof InvalidSpiffeIdError && err.field === "trustDomain");
  });

  test("fromPath refuses to build an ID over 2048 bytes (item 21)", () => {
    expectInvalid(() => SpiffeId.fromPath("td", `/${"a".repeat(2048)}`), "longer than 2048 bytes");
  });
});

describe("the same conformance table in real workerd (no nodejs_compat)", () => {
  test("items 1-22: workerd parses every valid ID and rejects every invalid one with the same message", async () => {
    const worker = await startModuleWorker(`
      import { SpiffeId } from ${JSON.stringify(join(projectRoot, "src/identity/spiffe-id.ts"))};
      import { invalidSpiffeIds, validSpiffeIds } from ${JSON.stringify(join(projectRoot, "test/conformance/spiffe-id-cases.ts"))};
      export default {
        async fetch() {
          const valid = validSpiffeIds.map((c) => { try { return SpiffeId.parse(c.id).toString(); } catch (e) { return "threw: " + e.message; } });
          const invalid = invalidSpiffeIds.map((c) => { try { SpiffeId.parse(c.id); return { accepted: true }; } catch (e) { return { name: e.name, code: e.code, message: e.message }; } });
          return Response.json({ valid, invalid, runtime: navigator.userAgent });
        },
      };`);
    try {
      const res = await worker.fetch("/");
      assert.equal(res.status, 200);
      const body = (await res.json()) as { valid: string[]; invalid: { name?: string; code?: string; message?: string }[]; runtime: string };
      assert.equal(body.runtime, "Cloudflare-Workers");
      assert.deepEqual(body.valid, validSpiffeIds.map((c) => c.id));
      invalidSpiffeIds.forEach((c, i) => {
        const got = body.invalid[i];
        assert.equal(got?.code, "ERR_SPIFFE_ID_INVALID", `items ${c.items.join(",")}: ${c.id.slice(0, 60)}`);
        assert.equal(got?.name, "InvalidSpiffeIdError");
        assert.ok(got?.message?.includes(c.error), `items ${c.items.join(",")}: ${got?.message}`);
      });
    } finally {
      await worker.dispose();
    }
  });
});
