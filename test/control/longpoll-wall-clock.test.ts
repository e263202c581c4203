// Issue 6, finding 5, at the scale it was found: "?wait=5 takes 14-50 s under 100-400 concurrent
// polls", because a wait was counted in polls (a D1 + KV read every 250 ms), so every extra
// second of ?wait= cost four polls' worth of everyone else's load. Here 240 polls wait at once
// in real workerd (60 API tokens, each holding SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL = 4), first
// with ?wait=1, then with ?wait=9:
// - every poll is held and waits its full ?wait= (304 after at least that long);
// - the 8 extra seconds of ?wait= cost about 8 s of wall clock, not a multiple of it (the two
//   rounds are a peer measured in the same run, so a loaded machine's request overhead cancels);
// - no poll's wait grows past ?wait= plus a bounded slack.
// (publish-limits.test.ts checks 60 polls of 2 s, too few to tell the two designs apart.)
// Requests go straight to the control worker's own socket in Miniflare (real workerd, as the
// finding-4 test does): wrangler dev's proxy in front of `startControlWorker` leaves a third of
// 240 concurrent long requests unanswered for over a minute, before or after our code runs.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Agent, request } from "undici";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer } from "../support/control-client.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";

const CREDENTIALS = 60;
const WAITS_PER_CREDENTIAL = 4;
const SHORT_WAIT_SECONDS = 1;
const LONG_WAIT_SECONDS = 9;
/** Beyond the difference in ?wait=: the two rounds' request handling may differ this much on a loaded machine. */
const DIFFERENCE_SLACK_MS = 4000;
/** Beyond ?wait=: the route's own 1.5 s bound on the publisher plus request handling of 240 requests on a loaded CI machine (12-13 s seen at load 20 for ?wait=9; the old poll-counted wait took minutes). */
const SLACK_MS = 20_000;
/** A poll with no answer after this long is counted as unanswered (keeps the test bounded). */
const GIVE_UP_MS = 60_000;

let mesh: EdgeMesh;
let ca: ThrowawayCa;

before(async () => {
  ca = await createThrowawayCa();
  mesh = await startEdgeMesh({ controlVars: { ...ca.vars, SNAPSHOT_LONGPOLL_MAX_SECONDS: "10", SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL: String(WAITS_PER_CREDENTIAL) } });
});

after(async () => {
  await mesh?.dispose();
});

async function json<B>(r: Response, status: number): Promise<B> {
  const text = await r.text();
  assert.equal(r.status, status, text);
  return JSON.parse(text) as B;
}

interface Round {
  /** Each poll's own wall time, ascending. */
  ms: number[];
  median: number;
  spread: string;
}

test(`${CREDENTIALS * WAITS_PER_CREDENTIAL} concurrent long-polls each wait their ?wait= in wall-clock seconds, not in a count of polls`, async (t) => {
  const applied = await mesh.control("/v1/apply?wait=30", {
    method: "POST",
    headers: bearer(ca.adminToken, "application/yaml"),
    body: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: poll-target, namespace: shop}
spec: {hosts: [poll-target], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: 80, name: http, protocol: HTTP}], endpoints: [{address: 10.0.0.1}]}`,
  });
  assert.equal(applied.status, 200, await applied.text());
  const head = await json<{ version: number }>(await mesh.control("/v1/snapshots/gateway", { headers: bearer(ca.adminToken) }), 200);

  const tokens = await Promise.all(
    Array.from({ length: CREDENTIALS }, async (_, i) => {
      const body = JSON.stringify({ subject: `poller-${i}`, namespaces: ["*"], access: "read" });
      return (await json<{ token: string }>(await mesh.control("/v1/tokens", { method: "POST", headers: bearer(ca.adminToken), body }), 201)).token;
    }),
  );

  /** Every token holds its WAITS_PER_CREDENTIAL polls of `?wait=seconds` at once. */
  async function round(seconds: number): Promise<Round> {
    // Fresh connections per round: a keep-alive socket the server closed while idle between
    // rounds would fail a request for a reason that has nothing to do with waiting.
    const agent = new Agent({ connections: null, headersTimeout: GIVE_UP_MS, bodyTimeout: GIVE_UP_MS });
    try {
      const answers = await Promise.all(
        tokens.flatMap((token) =>
          Array.from({ length: WAITS_PER_CREDENTIAL }, async () => {
            const sent = Date.now();
            try {
              const r = await request(new URL(`/v1/snapshots/gateway?wait=${seconds}`, mesh.controlUrl), {
                dispatcher: agent,
                headers: { authorization: `Bearer ${token}`, "if-none-match": `"${head.version}"` },
              });
              await r.body.dump();
              return { status: r.statusCode as number | string, ms: Date.now() - sent };
            } catch (err) {
              // No answer in GIVE_UP_MS or a dropped connection: counted, so the assertion says how many.
              return { status: `${(err as Error).name}: ${(err as Error).message}`, ms: Date.now() - sent };
            }
          }),
        ),
      );
      const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
      const median = ms[ms.length >> 1] as number;
      const spread = `?wait=${seconds}: fastest ${ms[0]} ms, median ${median} ms, slowest ${ms[ms.length - 1]} ms`;
      const statuses = new Map<number | string, number>();
      for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      assert.deepEqual([...statuses], [[304, CREDENTIALS * WAITS_PER_CREDENTIAL]], `every poll was held (none over the cap) and timed out unchanged (${spread})`);
      assert.ok((ms[0] as number) >= seconds * 1000 - 100, `every poll waited its full ?wait= (${spread})`);
      return { ms, median, spread };
    } finally {
      await agent.close();
    }
  }

  const short = await round(SHORT_WAIT_SECONDS);
  const long = await round(LONG_WAIT_SECONDS);
  const extraWaitMs = (LONG_WAIT_SECONDS - SHORT_WAIT_SECONDS) * 1000;
  t.diagnostic(`${short.spread}; ${long.spread}`);
  assert.ok(
    long.median - short.median < extraWaitMs + DIFFERENCE_SLACK_MS,
    `${extraWaitMs / 1000} more seconds of ?wait= cost ${long.median - short.median} ms of wall clock (${short.spread}; ${long.spread})`,
  );
  assert.ok((long.ms[long.ms.length - 1] as number) < LONG_WAIT_SECONDS * 1000 + SLACK_MS, `no poll's wait grew with the others' (${long.spread})`);
});
