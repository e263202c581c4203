// The refusal matrix of spiffe-checklist section D, over real TLS 1.3 sockets on loopback:
// every bad peer is refused by the HBONE client (peer = server) and by the HBONE server
// (peer = client). Good certificates come from the real issuer; bad ones are crafted under
// the same intermediate. One fixed clock builds and checks every certificate.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect as tlsConnect } from "node:tls";
import { connect as http2Connect } from "node:http2";
import type { AddressInfo } from "node:net";
import { createTestPki, FIXED_NOW, type TestPki } from "../support/node-proxy-certs.ts";
import { StaticSvidSource } from "../../src/node-proxy/identity/static-svid-source.ts";
import { PooledHboneConnector } from "../../src/node-proxy/transport/hbone-connector.ts";
import { createHboneServer } from "../../src/node-proxy/transport/hbone-server.ts";
import { hboneServerName } from "../../src/node-proxy/transport/server-name.ts";
import { HboneError } from "../../src/node-proxy/transport/errors.ts";
import { PeerVerificationError, type PeerRefusalReason } from "../../src/node-proxy/identity/errors.ts";
import type { HboneServer, ProxyLogger, SvidCredentials } from "../../src/node-proxy/context.ts";

const TD = "strait.local";
const id = (sa: string) => `spiffe://${TD}/ns/shop/sa/${sa}`;
const CLIENT = id("web");
const SERVER = id("reviews");
const quiet: ProxyLogger = { info() {}, warn() {}, error() {} };

let pki: TestPki;
let foreign: TestPki;
let rogue: TestPki;

/** A bad peer for each case: its credentials (presented under `as`) and the refusal reason expected. */
interface Case {
  name: string;
  make(as: string): Promise<SvidCredentials>;
  reason: PeerRefusalReason;
  /** The id to put on the revocation list. */
  revoke?: string;
}

const cases = (): Case[] => [
  { name: "expired", make: (as) => pki.issue(as, { at: FIXED_NOW - 2 * 3_600_000, ttlSeconds: 3600 }), reason: "expired" },
  { name: "not yet valid", make: (as) => pki.issue(as, { at: FIXED_NOW + 2 * 3_600_000 }), reason: "not-yet-valid" },
  { name: "foreign trust domain", make: (as) => foreign.issue(as.replace(TD, "foreign.example")), reason: "untrusted-trust-domain" },
  { name: "leaf with cA=true", make: (as) => pki.craft(as, "ca-leaf"), reason: "leaf-is-ca" },
  { name: "no URI SAN", make: (as) => pki.craft(as, "no-uri-san"), reason: "uri-san-count" },
  { name: "two URI SANs", make: (as) => pki.craft(as, "two-uri-sans"), reason: "uri-san-count" },
  { name: "untrusted root (same trust domain)", make: (as) => rogue.issue(as), reason: "untrusted-chain" },
  { name: "revoked", make: (as) => pki.issue(as), reason: "revoked", revoke: "self" },
  { name: "leaf without digitalSignature", make: (as) => pki.craft(as, "no-digital-signature"), reason: "key-usage" },
];

before(async () => {
  pki = await createTestPki({ trustDomain: TD });
  foreign = await createTestPki({ trustDomain: "foreign.example" });
  rogue = await createTestPki({ trustDomain: TD });
});

function source(): StaticSvidSource {
  return new StaticSvidSource({ clock: pki.clock, nodeSpiffeId: `spiffe://${TD}/node/c1/a`, trustDomain: TD, x509AuthoritiesPem: pki.anchorsPem });
}

async function startServer(identity: StaticSvidSource, present?: SvidCredentials) {
  const refused: { reason: string; error: unknown }[] = [];
  const streams: string[] = [];
  const server: HboneServer = createHboneServer(
    { identity, clock: pki.clock, logger: quiet, onRefused: (reason, error) => refused.push({ reason, error }) },
    {
      ...(present === undefined ? {} : { serverIdentity: () => present }),
      onStream: (req) => {
        streams.push(req.peer.spiffeId);
        const s = req.accept();
        s.pipe(s);
      },
    },
  );
  const addr = await server.listen({ host: "127.0.0.1", port: 0 });
  return { server, addr, refused, streams };
}

describe("client side: the HBONE client refuses a bad server", () => {
  const servers: HboneServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  for (const c of cases()) {
    test(`server presenting ${c.name}`, async () => {
      const clientIdentity = source();
      clientIdentity.set(await pki.issue(CLIENT));
      const bad = await c.make(SERVER);
      if (c.revoke !== undefined) clientIdentity.revoke([SERVER]);
      const serverIdentity = source();
      const { server, addr, streams } = await startServer(serverIdentity, bad);
      servers.push(server);
      const connector = new PooledHboneConnector({ identity: clientIdentity, clock: pki.clock });
      try {
        await assert.rejects(
          connector.connect({ source: CLIENT, target: { host: "127.0.0.1", port: addr.port }, authority: "10.0.0.2:8080", expectedPeer: SERVER }),
          (err: unknown) => {
            assert.ok(err instanceof HboneError, String(err));
            assert.equal(err.failure, "peer-refused", err.message);
            assert.ok(err.cause instanceof PeerVerificationError);
            assert.equal(err.cause.reason, c.reason, err.message);
            return true;
          },
        );
        assert.deepEqual(streams, [], "no CONNECT reached the server");
        assert.equal(connector.stats().connections, 0);
      } finally {
        await connector.close();
      }
    });
  }

  test("server presenting a valid SVID for the wrong SPIFFE ID", async () => {
    const clientIdentity = source();
    clientIdentity.set(await pki.issue(CLIENT));
    const { server, addr } = await startServer(source(), await pki.issue(id("ratings")));
    servers.push(server);
    const connector = new PooledHboneConnector({ identity: clientIdentity, clock: pki.clock });
    try {
      await assert.rejects(
        connector.connect({ source: CLIENT, target: { host: "127.0.0.1", port: addr.port }, authority: "10.0.0.2:8080", expectedPeer: SERVER }),
        (err: unknown) => err instanceof HboneError && err.cause instanceof PeerVerificationError && err.cause.reason === "unexpected-identity",
      );
    } finally {
      await connector.close();
    }
  });

  test("server whose certificate has clientAuth only (no serverAuth EKU)", async () => {
    const clientIdentity = source();
    clientIdentity.set(await pki.issue(CLIENT));
    const { server, addr } = await startServer(source(), await pki.craft(SERVER, "client-eku-only-as-server"));
    servers.push(server);
    const connector = new PooledHboneConnector({ identity: clientIdentity, clock: pki.clock });
    try {
      await assert.rejects(
        connector.connect({ source: CLIENT, target: { host: "127.0.0.1", port: addr.port }, authority: "10.0.0.2:8080", expectedPeer: SERVER }),
        (err: unknown) => err instanceof HboneError && err.cause instanceof PeerVerificationError && err.cause.reason === "extended-key-usage",
      );
    } finally {
      await connector.close();
    }
  });

  test("control: the same setup with a good server certificate connects and echoes", async () => {
    const clientIdentity = source();
    clientIdentity.set(await pki.issue(CLIENT));
    const { server, addr, streams } = await startServer(source(), await pki.issue(SERVER));
    servers.push(server);
    const connector = new PooledHboneConnector({ identity: clientIdentity, clock: pki.clock });
    try {
      const s = await connector.connect({ source: CLIENT, target: { host: "127.0.0.1", port: addr.port }, authority: "10.0.0.2:8080", expectedPeer: SERVER });
      s.end("ping");
      const chunks: Buffer[] = [];
      for await (const chunk of s) chunks.push(chunk as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), "ping");
      assert.deepEqual(streams, [CLIENT]);
    } finally {
      await connector.close();
    }
  });
});

/**
 * A rogue client: raw TLS 1.3 + HTTP/2 CONNECT presenting whatever it is given, as an attacker
 * would (our own connector never presents an invalid SVID). Resolves to the CONNECT's status, or
 * "refused" when the server closed the connection without answering.
 */
function rogueConnect(addr: AddressInfo, creds: SvidCredentials, sniFor: string): Promise<number | "refused"> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: addr.port,
      servername: hboneServerName(sniFor),
      ALPNProtocols: ["h2"],
      cert: creds.certChainPem,
      key: creds.keyPem,
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
    });
    socket.on("error", () => resolve("refused"));
    socket.once("secureConnect", () => {
      const session = http2Connect(`https://127.0.0.1:${addr.port}`, { createConnection: () => socket });
      session.on("error", () => resolve("refused"));
      session.on("close", () => resolve("refused"));
      const req = session.request({ ":method": "CONNECT", ":authority": "10.0.0.2:8080" });
      req.on("error", () => resolve("refused"));
      req.on("response", (h) => {
        resolve(Number(h[":status"]));
        session.destroy();
      });
      req.on("close", () => resolve("refused"));
    });
  });
}

describe("server side: the HBONE server refuses a bad client", () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let serverIdentity: StaticSvidSource;
  before(async () => {
    serverIdentity = source();
    serverIdentity.set(await pki.issue(SERVER));
    server = await startServer(serverIdentity);
  });
  after(async () => {
    await server.server.close();
  });

  for (const c of cases()) {
    test(`client presenting ${c.name}`, async () => {
      const bad = await c.make(CLIENT);
      serverIdentity.revoke(c.revoke === undefined ? [] : [CLIENT]);
      server.refused.length = 0;
      server.streams.length = 0;
      const outcome = await rogueConnect(server.addr, bad, SERVER);
      assert.equal(outcome, "refused");
      assert.deepEqual(server.streams, [], "the stream handler never ran");
      assert.equal(server.refused.length, 1, JSON.stringify(server.refused.map((r) => r.reason)));
      assert.equal(server.refused[0]?.reason, c.reason);
    });
  }

  test("client presenting no certificate at all", async () => {
    server.refused.length = 0;
    serverIdentity.revoke([]);
    const outcome = await new Promise<string>((resolve) => {
      const socket = tlsConnect({ host: "127.0.0.1", port: server.addr.port, servername: hboneServerName(SERVER), ALPNProtocols: ["h2"], rejectUnauthorized: false, minVersion: "TLSv1.3" });
      socket.on("error", () => resolve("refused"));
      socket.on("close", () => resolve("refused"));
      socket.once("secureConnect", () => socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
      socket.on("data", () => resolve("answered"));
    });
    assert.equal(outcome, "refused");
    assert.equal(server.refused[0]?.reason, "no-certificate");
  });

  test("control: a good client gets 200 and its SPIFFE ID reaches the handler", async () => {
    serverIdentity.revoke([]);
    server.streams.length = 0;
    assert.equal(await rogueConnect(server.addr, await pki.issue(CLIENT), SERVER), 200);
    assert.deepEqual(server.streams, [CLIENT]);
  });

  test("a client revoked after connecting loses its connection", async () => {
    const clientIdentity = source();
    clientIdentity.set(await pki.issue(CLIENT));
    serverIdentity.revoke([]);
    const connector = new PooledHboneConnector({ identity: clientIdentity, clock: pki.clock });
    try {
      const s = await connector.connect({ source: CLIENT, target: { host: "127.0.0.1", port: server.addr.port }, authority: "10.0.0.2:8080", expectedPeer: SERVER });
      s.on("error", () => undefined);
      const closed = new Promise<void>((resolve) => s.once("close", () => resolve()));
      serverIdentity.revoke([CLIENT]);
      await closed;
      await assert.rejects(
        connector.connect({ source: CLIENT, target: { host: "127.0.0.1", port: server.addr.port }, authority: "10.0.0.2:8080", expectedPeer: SERVER }),
        HboneError,
      );
    } finally {
      await connector.close();
      serverIdentity.revoke([]);
    }
  });
});
