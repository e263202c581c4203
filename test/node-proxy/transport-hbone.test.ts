// HBONE round trips on loopback: many CONNECT streams multiplexed over one pooled mutual-TLS 1.3
// connection, the server's SVID chosen per SNI, a renewed client SVID used by new connections,
// and malformed CONNECTs answered with a 4xx instead of a crash.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { connect as http2Connect } from "node:http2";
import type { Duplex } from "node:stream";
import { createTestPki, type TestPki } from "../support/node-proxy-certs.ts";
import { StaticSvidSource } from "../../src/node-proxy/identity/static-svid-source.ts";
import { PooledHboneConnector } from "../../src/node-proxy/transport/hbone-connector.ts";
import { createHboneServer } from "../../src/node-proxy/transport/hbone-server.ts";
import { hboneServerName } from "../../src/node-proxy/transport/server-name.ts";
import type { HboneInboundRequest, HboneServer, ProxyLogger } from "../../src/node-proxy/context.ts";

const TD = "strait.local";
const id = (sa: string) => `spiffe://${TD}/ns/shop/sa/${sa}`;
const quiet: ProxyLogger = { info() {}, warn() {}, error() {} };

let pki: TestPki;
let serverIdentity: StaticSvidSource;
let clientIdentity: StaticSvidSource;
let server: HboneServer;
let port: number;
const seen: HboneInboundRequest[] = [];

function source(node: string): StaticSvidSource {
  return new StaticSvidSource({ clock: pki.clock, nodeSpiffeId: `spiffe://${TD}/node/c1/${node}`, trustDomain: TD, x509AuthoritiesPem: pki.anchorsPem });
}

async function readAll(s: Duplex): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

before(async () => {
  pki = await createTestPki({ trustDomain: TD });
  serverIdentity = source("b");
  serverIdentity.set(await pki.issue(id("reviews")));
  serverIdentity.set(await pki.issue(id("ratings")));
  clientIdentity = source("a");
  clientIdentity.set(await pki.issue(id("web")));
  server = createHboneServer(
    { identity: serverIdentity, clock: pki.clock, logger: quiet },
    {
      onStream: (req) => {
        seen.push(req);
        if (req.authority === "10.9.9.9:1") {
          req.reject(503, "no such workload\n");
          return;
        }
        const s = req.accept({ "x-served-by": req.localIdentity });
        // Echo with the authority and identities in front, so each stream proves what it reached.
        s.write(`${req.authority} ${req.peer.spiffeId} ${req.localIdentity}\n`);
        s.pipe(s);
      },
    },
  );
  port = (await server.listen({ host: "127.0.0.1", port: 0 })).port;
});

after(async () => {
  await server?.close();
});

describe("HBONE round trip", () => {
  test("64 concurrent CONNECT streams share one pooled connection, each reaching its own authority", async () => {
    const connector = new PooledHboneConnector({ identity: clientIdentity, clock: pki.clock });
    try {
      seen.length = 0;
      const results = await Promise.all(
        Array.from({ length: 64 }, async (_, i) => {
          const s = await connector.connect({ source: id("web"), target: { host: "127.0.0.1", port }, authority: `10.0.0.${i % 250}:${8000 + i}`, expectedPeer: id("reviews") });
          s.end(`payload-${i}`);
          return readAll(s);
        }),
      );
      results.forEach((text, i) => assert.equal(text, `10.0.0.${i % 250}:${8000 + i} ${id("web")} ${id("reviews")}\npayload-${i}`));
      assert.equal(connector.stats().connectionsOpened, 1, "one TLS connection carried every stream");
      assert.equal(seen.length, 64);
      assert.ok(seen.every((r) => r.peer.trustDomain === TD));
    } finally {
      await connector.close();
    }
  });

  test("the server presents the SVID the SNI names; a second identity gets its own connection", async () => {
    const connector = new PooledHboneConnector({ identity: clientIdentity, clock: pki.clock });
    try {
      const a = await connector.connect({ source: id("web"), target: { host: "127.0.0.1", port }, authority: "10.0.0.1:80", expectedPeer: id("ratings") });
      a.end();
      assert.match(await readAll(a), new RegExp(`${id("ratings")}\\n$`));
      const b = await connector.connect({ source: id("web"), target: { host: "127.0.0.1", port }, authority: "10.0.0.1:80", expectedPeer: id("reviews") });
      b.end();
      assert.match(await readAll(b), new RegExp(`${id("reviews")}\\n$`));
      assert.equal(connector.stats().connectionsOpened, 2);
    } finally {
      await connector.close();
    }
  });

  test("a renewed client SVID: the next stream opens a new connection presenting the new certificate", async () => {
    const identity = source("a");
    const first = await pki.issue(id("web"));
    identity.set(first);
    const connector = new PooledHboneConnector({ identity, clock: pki.clock });
    const serials: string[] = [];
    const observe = (s: Duplex) => {
      // The server side socket of this stream's connection is not reachable from here; the TLS
      // client socket is, through the http2 session, and shows which certificate it presented.
      const socket = (s as unknown as { session: { socket: TLSSocket } }).session.socket;
      serials.push(socket.getX509Certificate()?.serialNumber.toLowerCase() ?? "");
    };
    try {
      const s1 = await connector.connect({ source: id("web"), target: { host: "127.0.0.1", port }, authority: "10.0.0.1:80", expectedPeer: id("reviews") });
      observe(s1);
      s1.end();
      await readAll(s1);
      const renewed = await pki.issue(id("web"));
      identity.set(renewed);
      const s2 = await connector.connect({ source: id("web"), target: { host: "127.0.0.1", port }, authority: "10.0.0.1:80", expectedPeer: id("reviews") });
      observe(s2);
      s2.end();
      await readAll(s2);
      assert.equal(connector.stats().connectionsOpened, 2);
      assert.deepEqual(serials, [first.serial.replace(/^0+/, ""), renewed.serial.replace(/^0+/, "")].map((s) => s.toLowerCase()));
    } finally {
      await connector.close();
    }
  });

  test("a CONNECT the server rejects surfaces as HboneError 'rejected' with the status", async () => {
    const connector = new PooledHboneConnector({ identity: clientIdentity, clock: pki.clock });
    try {
      await assert.rejects(
        connector.connect({ source: id("web"), target: { host: "127.0.0.1", port }, authority: "10.9.9.9:1", expectedPeer: id("reviews") }),
        (err: unknown) => err instanceof Error && "failure" in err && (err as { failure: string }).failure === "rejected" && (err as { status?: number }).status === 503,
      );
    } finally {
      await connector.close();
    }
  });

  test("no valid SVID for the source: refused before any socket (fail closed)", async () => {
    const connector = new PooledHboneConnector({ identity: clientIdentity, clock: pki.clock });
    try {
      await assert.rejects(
        connector.connect({ source: id("nobody"), target: { host: "127.0.0.1", port }, authority: "10.0.0.1:80", expectedPeer: id("reviews") }),
        (err: unknown) => (err as { code?: string }).code === "ERR_HBONE_NO_IDENTITY",
      );
      assert.equal(connector.stats().connectionsOpened, 0);
    } finally {
      await connector.close();
    }
  });
});

describe("bad input on the HBONE port never crashes the server", () => {
  async function authenticatedSession() {
    const creds = await pki.issue(id("web"));
    const socket = tlsConnect({ host: "127.0.0.1", port, servername: hboneServerName(id("reviews")), ALPNProtocols: ["h2"], cert: creds.certChainPem, key: creds.keyPem, rejectUnauthorized: false, minVersion: "TLSv1.3" });
    await new Promise((resolve) => socket.once("secureConnect", resolve));
    return http2Connect(`https://127.0.0.1:${port}`, { createConnection: () => socket });
  }

  test("GET instead of CONNECT -> 405; CONNECT with a bad authority -> 400", async () => {
    const session = await authenticatedSession();
    try {
      const status = (headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
          const req = session.request(headers);
          req.on("response", (h) => resolve(Number(h[":status"])));
          req.on("error", reject);
          req.resume();
          req.end();
        });
      assert.equal(await status({ ":method": "GET", ":path": "/" }), 405);
      assert.equal(await status({ ":method": "CONNECT", ":authority": "no-port-here" }), 400);
      assert.equal(await status({ ":method": "CONNECT", ":authority": "10.0.0.1:80" }), 200);
    } finally {
      session.destroy();
    }
  });

  test("plaintext and garbage on the TLS port are dropped; the server keeps serving", async () => {
    const { connect } = await import("node:net");
    await new Promise<void>((resolve) => {
      const s = connect(port, "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02garbage"));
      s.on("error", () => resolve());
      s.on("close", () => resolve());
      s.resume();
    });
    const connector = new PooledHboneConnector({ identity: clientIdentity, clock: pki.clock });
    try {
      const s = await connector.connect({ source: id("web"), target: { host: "127.0.0.1", port }, authority: "10.0.0.1:80", expectedPeer: id("reviews") });
      s.end("still here");
      assert.match(await readAll(s), /still here$/);
    } finally {
      await connector.close();
    }
  });
});
