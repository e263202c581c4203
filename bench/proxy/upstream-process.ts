/** The benchmark's upstream workload: reads the request body, answers 1 KiB. Own process. */
import http from "node:http";

const body = Buffer.alloc(1024, "x");
const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(body.length) });
    res.end(body);
  });
});
server.listen(0, "127.0.0.1", () => {
  const a = server.address();
  process.send!({ kind: "listening", port: typeof a === "object" && a !== null ? a.port : 0 });
});
process.on("message", (m: { kind: string }) => {
  if (m.kind === "stop") server.close(() => process.exit(0));
});
