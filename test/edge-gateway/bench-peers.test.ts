/**
 * The throughput benchmark's peers (bench/gateway/throughput.ts) do on the wire what the bench
 * says they do, in real workerd against one echo upstream: the Istio-minimum forwarder sends the
 * upstream the same header names the gateway sends on the bench's route and returns the same
 * added response header; the bare forwarder adds none of them. If the gateway's per-request
 * header work changed, the minimum forwarder (the ceiling the bench reports) would no longer
 * price the same work, and this fails.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";
import { httpRequest, startEchoServer, type EchoServer, type HttpAnswer } from "../support/edge-gateway-upstreams.ts";
import { eventually } from "../support/eventually.ts";
import { BENCH_HOST, benchConfigYaml } from "../../bench/gateway/bench-config.ts";
import { BARE_FORWARDER, COMPATIBILITY, MINIMUM_FORWARDER } from "../../bench/gateway/throughput.ts";

let echo: EchoServer;
let mesh: EdgeMesh;
const peers: Record<"bare" | "minimum", { mf: Miniflare; url: URL }> = {} as never;

/** Headers a side adds or drops: what the echo saw, less what every side's request carries anyway. */
const COMMON = new Set(["host", "cf-worker", "connection", "keep-alive", "accept", "accept-encoding", "user-agent", "content-length"]);

before(async () => {
  echo = await startEchoServer("bench-upstream");
  const ca = await createThrowawayCa();
  mesh = await startEdgeMesh({ controlVars: ca.vars, gatewayVars: { ACCESS_LOG: "off" } });
  const r = await mesh.control("/v1/apply", { method: "POST", headers: { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" }, body: benchConfigYaml(echo.port) });
  assert.equal(r.status, 200, await r.text());
  await eventually(async () => assert.equal((await httpRequest(mesh.gatewayUrl, "/bench", { host: BENCH_HOST })).status, 200), 30_000);
  for (const [name, script] of [["bare", BARE_FORWARDER], ["minimum", MINIMUM_FORWARDER]] as const) {
    const mf = new Miniflare({ host: "127.0.0.1", port: 0, workers: [{ name: "w", modules: true, script: script(`http://127.0.0.1:${echo.port}`), ...COMPATIBILITY, unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] }] });
    await mf.ready;
    peers[name] = { mf, url: await mf.unsafeGetDirectURL("w") };
  }
});

after(async () => {
  for (const p of Object.values(peers)) await p.mf.dispose();
  await mesh?.dispose();
  await echo?.close();
});

/** One GET through a side; the headers the upstream saw for it and the answer. */
async function through(base: URL, id: string): Promise<{ upstream: Record<string, string>; answer: HttpAnswer }> {
  const answer = await httpRequest(base, `/bench?id=${id}`, { host: BENCH_HOST });
  assert.equal(answer.status, 200, answer.body);
  const seen = echo.seen.find((s) => s.url === `/bench?id=${id}`);
  assert.ok(seen !== undefined, `the upstream never saw ${id}`);
  const upstream: Record<string, string> = {};
  for (const [k, v] of Object.entries(seen.headers)) if (!COMMON.has(k) && typeof v === "string") upstream[k] = v;
  return { upstream, answer };
}

test("the Istio-minimum forwarder sends the upstream the header names the gateway sends on the bench's route, and adds x-envoy-upstream-service-time as the gateway does; the bare forwarder adds none", async () => {
  const gw = await through(mesh.gatewayUrl, "gateway");
  const min = await through(peers.minimum.url, "minimum");
  const bare = await through(peers.bare.url, "bare");
  assert.deepEqual(Object.keys(min.upstream).sort(), Object.keys(gw.upstream).sort(), `gateway sent ${JSON.stringify(gw.upstream)}, the minimum ${JSON.stringify(min.upstream)}`);
  assert.deepEqual(Object.keys(gw.upstream).sort(), ["x-envoy-attempt-count", "x-forwarded-host", "x-forwarded-proto", "x-request-id"]);
  for (const side of [gw, min]) {
    assert.equal(side.upstream["x-forwarded-host"], BENCH_HOST);
    assert.equal(side.upstream["x-forwarded-proto"], "http");
    assert.equal(side.upstream["x-envoy-attempt-count"], "1");
    assert.match(side.upstream["x-request-id"] ?? "", /^[0-9a-f-]{36}$/);
    assert.match(String(side.answer.headers["x-envoy-upstream-service-time"]), /^\d+$/);
  }
  assert.deepEqual(bare.upstream, {});
  assert.equal(bare.answer.headers["x-envoy-upstream-service-time"], undefined);
});
