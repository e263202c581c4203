import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import { show, strait } from "./support/run-cli.ts";

/** What the fake control plane saw. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

let http: Server;
let base: string;
const seen: Seen[] = [];

before(async () => {
  // A plain HTTP server standing in for things in front of the control plane (proxies, a wrong URL).
  http = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    if (req.url === "/prefix/v1/revisions?limit=20") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ revisions: [], next: null }));
    } else if (req.url?.startsWith("/bad-gateway/")) {
      res.writeHead(502, { "content-type": "text/html" }).end("<html><body>Bad Gateway</body></html>");
    } else if (req.url?.startsWith("/not-json/")) {
      res.writeHead(200, { "content-type": "text/html" }).end("<html>hello</html>");
    } else {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "ERR_NOT_FOUND", message: `no route for ${req.method} ${req.url}` } }));
    }
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const address = http.address();
  assert.ok(address !== null && typeof address === "object");
  base = `http://127.0.0.1:${address.port}`;
});

after(async () => {
  await new Promise<void>((resolve) => http.close(() => resolve()));
});

test("--server keeps a path prefix; --token overrides STRAIT_TOKEN and is sent as a bearer token", async () => {
  seen.length = 0;
  const r = await strait(["--server", `${base}/prefix`, "--token", "from-flag", "history"], { env: { STRAIT_TOKEN: "from-env" } });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stderr, "No revisions yet\n");
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.url, "/prefix/v1/revisions?limit=20");
  assert.equal(seen[0]!.headers.authorization, "Bearer from-flag");

  seen.length = 0;
  const envOnly = await strait(["history"], { env: { STRAIT_SERVER: `${base}/prefix/`, STRAIT_TOKEN: "from-env" } });
  assert.equal(envOnly.code, 0, show(envOnly));
  assert.equal(seen[0]!.url, "/prefix/v1/revisions?limit=20");
  assert.equal(seen[0]!.headers.authorization, "Bearer from-env");
});

test("an error answer that is not the control plane's JSON still fails cleanly with the status (exit 1)", async () => {
  const gateway = await strait(["--server", `${base}/bad-gateway`, "get", "vs"]);
  assert.equal(gateway.code, 1, show(gateway));
  assert.equal(gateway.stderr, "error: 502 Bad Gateway: <html><body>Bad Gateway</body></html> (HTTP_502)\n");

  const notJson = await strait(["--server", `${base}/not-json`, "get", "vs"]);
  assert.equal(notJson.code, 1, show(notJson));
  assert.match(notJson.stderr, /^error: GET \/not-json\/apis\/networking\.istio\.io\/v1\/namespaces\/default\/virtualservices: the server answered 200 with a body that is not JSON \(ERR_BAD_RESPONSE\)$/m);

  const wrongPath = await strait(["--server", base, "get", "vs", "reviews"]);
  assert.equal(wrongPath.code, 1, show(wrongPath));
  assert.match(wrongPath.stderr, /^error: no route for GET \/apis\/networking\.istio\.io\/v1\/namespaces\/default\/virtualservices\/reviews \(ERR_NOT_FOUND\)$/m);
});

test("a server that accepts but never answers hits --request-timeout (exit 3)", async () => {
  const sockets: Socket[] = [];
  const silent = createTcpServer((s) => void sockets.push(s));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const address = silent.address();
  assert.ok(address !== null && typeof address === "object");
  try {
    const started = Date.now();
    const r = await strait(["--server", `http://127.0.0.1:${address.port}`, "--request-timeout", "1s", "proxy-status"]);
    assert.equal(r.code, 3, show(r));
    assert.match(r.stderr, new RegExp(`^error: cannot reach the control plane at http://127\\.0\\.0\\.1:${address.port} \\(from --server\\): no answer within 1s \\(--request-timeout\\)$`, "m"));
    assert.ok(Date.now() - started < 15_000);
    assert.ok(sockets.length >= 1, "the CLI did connect");
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});
