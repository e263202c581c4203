/**
 * Admin port (15000): `/healthz` (the process is alive), `/ready` (identity, config and
 * data plane are up), `/config_dump` (the live snapshot and the state around it) and
 * `/certs` (every held SVID and the bundle, described; private keys never leave).
 * Bind it to loopback (the default): like Envoy's admin it is for the node's operator.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inspectCertificates } from "../../identity/x509-svid.ts";
import type { ConfigState, ListenAddress, SvidSource } from "../context.ts";

export interface AdminSources {
  identity: SvidSource;
  config: ConfigState;
  /** Named checks: all must pass for /ready. */
  readiness(): Record<string, boolean>;
  /** Extra sections for /config_dump (watcher status, listeners, pools...). */
  dump(): Record<string, unknown>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json", "cache-control": "no-store" });
  res.end(text);
}

async function certs(identity: SvidSource): Promise<unknown> {
  const held = identity.status();
  const described = await Promise.all(
    held.map(async (s) => {
      const creds = identity.credentialsFor(s.spiffeId);
      // Only the certificate chain is described; `keyPem` is never read here.
      return { ...s, chain: creds === undefined ? [] : await inspectCertificates(creds.certChainPem) };
    }),
  );
  const bundle = identity.bundle();
  return {
    node: identity.nodeSpiffeId(),
    identities: described,
    bundle: {
      trustDomain: bundle.trustDomain,
      sequence: bundle.sequence,
      x509Authorities: bundle.x509AuthoritiesPem === "" ? [] : await inspectCertificates(bundle.x509AuthoritiesPem),
      jwtAuthorities: [...bundle.jwtAuthorities.keys()],
    },
  };
}

export async function handleAdmin(sources: AdminSources, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "method not allowed\n");
  switch (path) {
    case "/healthz":
      return send(res, 200, "ok\n");
    case "/ready": {
      const checks = sources.readiness();
      const ready = Object.values(checks).every(Boolean);
      return send(res, ready ? 200 : 503, { ready, checks });
    }
    case "/config_dump": {
      const v = sources.config.current();
      return send(res, 200, {
        config: v === undefined ? null : { version: v.version, revision: v.revision, hash: v.hash, origin: v.origin, appliedAt: new Date(v.appliedAt).toISOString(), snapshot: v.snapshot },
        ...sources.dump(),
      });
    }
    case "/certs":
      return send(res, 200, await certs(sources.identity));
    default:
      return send(res, 404, "not found: try /healthz, /ready, /config_dump, /certs\n");
  }
}

/** A small HTTP server; handler errors answer 500 without a stack and never crash the process. */
export async function listenHttp(address: ListenAddress, handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<{ server: Server; address: AddressInfo; close(): Promise<void> }> {
  const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000 }, (req, res) => {
    handler(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, "internal error\n");
      else res.destroy();
    });
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    server,
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
