/**
 * The publish run and the snapshot reader together, in process: content-addressed blobs and
 * signed manifests, only changed blobs written, unchanged targets not rewritten, readers fetch only
 * what they lack and refuse tampered blobs and manifests.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CompactSign, exportJWK, generateKeyPair } from "jose";
import { runPublish, type PublishedHead, type PublishRunReport } from "../../src/control/publishing/publish-run.ts";
import { NOT_MODIFIED, SnapshotReader, SnapshotVerificationError, type SnapshotSource } from "../../src/core/snapshot/snapshot-reader.ts";
import { compileSnapshots } from "../../src/core/snapshot/compile-snapshots.ts";
import type { AnyResource } from "../../src/core/config/resource.ts";
import type { NodeSnapshot, Snapshot } from "../../src/core/snapshot/snapshot-model.ts";
import { syntheticMesh, withEndpointPort } from "../core/snapshot/synthetic-mesh.ts";

const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
const KID = "test-key";
void exportJWK;

/** An in-memory KV with write accounting, and the publisher's own state across runs. */
function harness() {
  const blobs = new Map<string, Uint8Array>();
  const manifests = new Map<string, PublishedHead>();
  const writes: { key: string; bytes: number }[] = [];
  const storedBlobs = new Set<string>();
  const previous = new Map<string, { version: number; hash: string }>();
  let revision = 0;
  async function publish(resources: readonly AnyResource[], o: { maxBlobBytes?: number } = {}): Promise<PublishRunReport> {
    revision++;
    const report = await runPublish({
      inputs: { resources, nodes: [], revocations: [], revision },
      trustDomain: "strait.local",
      rootNamespace: "strait-system",
      previous,
      storedBlobs,
      maxBlobBytes: o.maxBlobBytes ?? 20 * 1024 * 1024,
      store: {
        async putBlob(hash, bytes) {
          blobs.set(hash, bytes);
          writes.push({ key: `blob:${hash}`, bytes: bytes.byteLength });
        },
        async putManifest(head) {
          manifests.set(head.target, head);
          writes.push({ key: `manifest:${head.target}`, bytes: head.jws.length });
          previous.set(head.target, { version: head.version, hash: head.hash });
        },
      },
      sign: (payload) => new CompactSign(payload).setProtectedHeader({ alg: "ES256", kid: KID, typ: "strait-snapshot+jws" }).sign(privateKey),
    });
    return report;
  }
  const source = (tamper?: (hash: string, bytes: Uint8Array) => Uint8Array) => {
    const s = {
      blobReads: 0,
      async head(target: string) {
        const h = manifests.get(target);
        return h === undefined ? null : { version: h.version, revision: h.revision, hash: h.hash, jws: h.jws };
      },
      async blob(hash: string) {
        s.blobReads++;
        const b = blobs.get(hash);
        if (b === undefined) return null;
        return tamper === undefined ? b : tamper(hash, b);
      },
    };
    return s satisfies SnapshotSource;
  };
  return { publish, source, blobs, manifests, writes };
}

const keys = async (kid: string) => (kid === KID ? (publicKey as CryptoKey) : undefined);
const reader = <S extends Snapshot>(source: SnapshotSource, target: string, type: S["type"]) => new SnapshotReader<S>({ source, target, keys, type });

test("every target reassembles to exactly the compiled snapshot, verified blob by blob", async () => {
  const mesh = syntheticMesh(300, 4);
  const h = harness();
  const report = await h.publish(mesh);
  assert.deepEqual(report.targets.map((t) => t.state), ["published", "published", "published", "published", "published"]);
  const compiled = compileSnapshots({ resources: mesh, trustDomain: "strait.local", rootNamespace: "strait-system" });
  const gw = await reader(h.source(), "gateway", "gateway").poll();
  assert.deepEqual(gw?.snapshot, compiled.gateway);
  for (const n of compiled.nodes) {
    const got = await reader(h.source(), `node:c1/${n.node.node}`, "node").poll();
    assert.deepEqual(got?.snapshot, n, `node ${n.node.node}`);
  }
});

test("mesh-wide parts are stored once: the gateway registry and every node's outbound share blobs", async () => {
  const h = harness();
  await h.publish(syntheticMesh(300, 4));
  const manifestParts = (t: string) => JSON.parse(Buffer.from(h.manifests.get(t)!.jws.split(".")[1]!, "base64url").toString()).parts as Record<string, string[]>;
  const gw = new Set(manifestParts("gateway").services);
  for (const n of ["n0", "n1", "n2", "n3"]) {
    const outbound = manifestParts(`node:c1/${n}`).outbound!;
    assert.ok(outbound.length > 1, "the registry is split into several chunks");
    assert.deepEqual(outbound.filter((x) => !gw.has(x)), [], `node ${n}'s outbound chunks are the gateway's`);
  }
  const blobWrites = h.writes.filter((w) => w.key.startsWith("blob:")).map((w) => w.key);
  assert.equal(new Set(blobWrites).size, blobWrites.length, "no blob is written twice");
});

test("a single-endpoint change writes only the changed blobs; an unchanged target is not rewritten", async () => {
  const h = harness();
  const mesh = syntheticMesh(1000, 10);
  await h.publish(mesh);
  // What rewriting every whole snapshot would write (the layout before content addressing).
  const compiled = compileSnapshots({ resources: mesh, trustDomain: "strait.local" });
  const whole = [compiled.gateway, ...compiled.nodes].reduce((n, s) => n + JSON.stringify(s).length, 0);
  h.writes.length = 0;
  const report = await h.publish(withEndpointPort(mesh, 7, 9007));
  const changed = h.writes.reduce((n, w) => n + w.bytes, 0);
  assert.ok(changed * 20 < whole, `a one-endpoint change wrote ${changed} bytes; whole snapshots are ${whole} (under 5%)`);
  assert.ok(h.writes.filter((w) => w.key.startsWith("blob:")).length <= 6, JSON.stringify(h.writes.map((w) => w.key)));

  // A change no snapshot depends on (a label on the Gateway resource) rewrites nothing.
  h.writes.length = 0;
  const relabelled = withEndpointPort(mesh, 7, 9007).map((r) => (r.kind === "Gateway" ? ({ ...r, metadata: { ...r.metadata, labels: { team: "edge" } } } as AnyResource) : r));
  const quiet = await h.publish(relabelled);
  assert.deepEqual(h.writes, []);
  assert.ok(quiet.targets.every((t) => t.state === "unchanged"));
  assert.ok(report.targets.every((t) => t.state === "published"), "every target sees svc7's endpoint (exported to all)");
});

test("a reader fetches only the blobs it does not hold", async () => {
  const h = harness();
  const mesh = syntheticMesh(1000, 10);
  await h.publish(mesh);
  const src = h.source();
  const r = reader<NodeSnapshot>(src, "node:c1/n3", "node");
  const v1 = await r.poll();
  assert.ok(v1 !== undefined);
  const first = src.blobReads;
  assert.equal(await r.poll(v1), undefined, "nothing newer");
  await h.publish(withEndpointPort(mesh, 7, 9007));
  const v2 = await r.poll(v1);
  assert.ok(v2 !== undefined && v2.version === v1.version + 1);
  const second = src.blobReads - first;
  assert.ok(second <= 3 && second * 5 < first, `the second version fetched ${second} blobs, the first ${first}`);
  assert.equal(v2.fetched?.blobs, second);
  assert.equal(v2.snapshot.outbound.find((s) => s.host.startsWith("svc7."))?.endpoints[0]?.ports["80"], 9007);
});

test("a tampered blob, a forged manifest or an unknown key is refused; the reader keeps working afterwards", async () => {
  const h = harness();
  await h.publish(syntheticMesh(100, 2));
  const victim = [...h.blobs.keys()][1]!;
  const tampered = h.source((hash, bytes) => (hash === victim ? new TextEncoder().encode(new TextDecoder().decode(bytes).replace("10.", "66.")) : bytes));
  const all = (await Promise.all(["gateway", "node:c1/n0", "node:c1/n1"].map(async (t) => {
    try {
      await reader(tampered, t, t === "gateway" ? "gateway" : "node").poll();
      return "ok";
    } catch (err) {
      assert.ok(err instanceof SnapshotVerificationError, String(err));
      return err.message;
    }
  })));
  assert.ok(all.some((m) => /does not match its hash/.test(m)), JSON.stringify(all));

  const head = h.manifests.get("node:c1/n0")!;
  const [hdr, payload, sig] = head.jws.split(".");
  const m = JSON.parse(Buffer.from(payload!, "base64url").toString());
  m.parts.outbound = [];
  const forged = { version: head.version, jws: `${hdr}.${Buffer.from(JSON.stringify(m)).toString("base64url")}.${sig}` };
  const r = reader(h.source(), "node:c1/n0", "node");
  await assert.rejects(r.verify(forged), (e: unknown) => e instanceof SnapshotVerificationError && /signature/.test(e.message));
  await assert.rejects(new SnapshotReader({ source: h.source(), target: "node:c1/n0", keys: async () => undefined, type: "node" }).poll(), /not in the trust bundle/);
  await assert.rejects(reader(h.source(), "node:c1/n0", "gateway").poll(), /expected type gateway/);
  // The genuine one still verifies with the same reader.
  assert.equal((await r.poll())?.version, head.version);
  void NOT_MODIFIED;
});

test("an item larger than the blob limit fails only its target; the others publish", async () => {
  const h = harness();
  const big = "x".repeat(4000);
  const mesh: AnyResource[] = [
    ...syntheticMesh(40, 2),
    {
      apiVersion: "networking.istio.io/v1",
      kind: "WorkloadEntry",
      metadata: { name: "huge", namespace: "ns1", labels: { "strait.io/cluster": "c1", "strait.io/node": "big" } },
      spec: { address: "10.9.9.9", labels: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, big])) },
    } as AnyResource,
  ];
  const report = await h.publish(mesh, { maxBlobBytes: 16 * 1024 });
  const by = Object.fromEntries(report.targets.map((t) => [t.target, t]));
  assert.equal(by["node:c1/big"]?.state, "failed");
  assert.match(by["node:c1/big"]?.error ?? "", /over the blob limit/);
  assert.equal(by.gateway?.state, "published");
  assert.equal(by["node:c1/n0"]?.state, "published");
  assert.equal(by["node:c1/n1"]?.state, "published");
});

test("a head is live before its copy; copies run after every target is live, and a failed copy fails only its target", async () => {
  const { privateKey: key } = await generateKeyPair("ES256");
  const events: string[] = [];
  const previous = new Map<string, { version: number; hash: string }>();
  const report = await runPublish({
    inputs: { resources: syntheticMesh(20, 3), nodes: [], revocations: [], revision: 1 },
    trustDomain: "strait.local",
    rootNamespace: "strait-system",
    previous,
    storedBlobs: new Set(),
    maxBlobBytes: 20 * 1024 * 1024,
    store: {
      async putBlob() {},
      async putManifest(head) {
        events.push(`live ${head.target}`);
      },
      async copyManifest(head) {
        events.push(`copy ${head.target}`);
        if (head.target === "node:c1/n1") throw new Error("KV is down");
      },
    },
    sign: (payload) => new CompactSign(payload).setProtectedHeader({ alg: "ES256", kid: "k", typ: "strait-snapshot+jws" }).sign(key),
    onTarget: (outcome, head) => events.push(`notify ${outcome.target} ${outcome.state} ${head === undefined ? "-" : head.version}`),
  });
  const targets = ["gateway", "node:c1/n0", "node:c1/n1", "node:c1/n2"];
  assert.deepEqual(report.targets.map((t) => t.target), targets);
  const lastLive = Math.max(...targets.map((t) => events.indexOf(`live ${t}`)));
  const firstCopy = Math.min(...targets.map((t) => events.indexOf(`copy ${t}`)));
  assert.ok(lastLive < firstCopy, `every head is live before the first copy: ${events.join(", ")}`);
  for (const t of targets) {
    // Waiters are told as soon as the head is live, before any copy.
    assert.ok(events.indexOf(`notify ${t} published 1`) < firstCopy, t);
  }
  assert.deepEqual(
    report.targets.map((t) => [t.target, t.state, t.version]),
    [
      ["gateway", "published", 1],
      ["node:c1/n0", "published", 1],
      ["node:c1/n1", "failed", 1],
      ["node:c1/n2", "published", 1],
    ],
  );
  assert.match(report.targets[2]!.error ?? "", /^manifest copy: KV is down$/);
});
