/**
 * The benchmark's upstream: a tiny HTTP server in its own Node process, so the load generator
 * (autocannon, in the bench process) and the upstream never share an event loop. Both sides of
 * the throughput comparison forward to this one server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

const SERVER = `
const http = require("node:http");
const s = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
    res.end("ok");
  });
});
s.keepAliveTimeout = 60000;
s.listen(0, "127.0.0.1", () => console.log(String(s.address().port)));
process.on("SIGTERM", () => { s.closeAllConnections(); s.close(() => process.exit(0)); });
`;

export interface UpstreamProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function startUpstreamProcess(): Promise<UpstreamProcess> {
  const child: ChildProcess = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("upstream process did not start within 30 s")), 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`upstream process exited with ${code}`));
    });
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      resolve(Number(line));
    });
  });
  return {
    port,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
        child.once("exit", () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}
