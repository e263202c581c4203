/**
 * One node proxy of the benchmark, in its own process so its CPU time and RSS are its own.
 * Reads the CA and its compiled node snapshot (JSON, as the control plane publishes it: the
 * proxy never parses YAML) from the file named by argv[2], issues its SVIDs with the issuer
 * code, starts the real data plane and HBONE transport, and talks to the parent over IPC:
 *   -> { kind: "listening", addresses }       once listening
 *   <- { kind: "config", snapshotFile }       swap in a new snapshot (e.g. with peer ports)
 *   -> { kind: "applied" }
 *   <- { kind: "profile-start" } / { kind: "profile-stop", file }   V8 CPU profile of a window
 *   -> { kind: "profiled" }
 *   <- { kind: "memory", heapSnapshot? }  -> { kind: "memory", usage, heapSpaces }  (after a full GC
 *      when the process runs with --expose-gc; a heap snapshot is written when a file is named)
 *   <- { kind: "stop" }
 */
import { readFile, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import v8 from "node:v8";
import { loadSigningCa } from "../../src/identity/ca.ts";
import { startDataPlane } from "../../src/node-proxy/data-plane.ts";
import type { NodeSnapshot } from "../../src/core/snapshot/snapshot-model.ts";
import { staticNode, type StaticCa } from "./static-mesh.ts";

export interface ProxyProcessInput {
  cluster: string;
  node: string;
  trustDomain: string;
  rootPem: string;
  intermediate: { certificatePem: string; privateKeyPem: string };
  /** File holding this node's compiled snapshot (JSON). */
  snapshotFile: string;
}

type ParentMessage =
  | { kind: "config"; snapshotFile: string }
  | { kind: "profile-start" }
  | { kind: "profile-stop"; file: string }
  | { kind: "memory"; heapSnapshot?: string }
  | { kind: "stop" };

const input = JSON.parse(await readFile(process.argv[2]!, "utf8")) as ProxyProcessInput;
const ca: StaticCa = {
  trustDomain: input.trustDomain,
  rootPem: input.rootPem,
  ca: await loadSigningCa(input.intermediate),
  chainPem: input.intermediate.certificatePem,
};
const snapshotOf = async (file: string) => JSON.parse(await readFile(file, "utf8")) as NodeSnapshot;
const node = await staticNode({ ca, cluster: input.cluster, node: input.node, snapshot: await snapshotOf(input.snapshotFile) });
const dp = await startDataPlane(node.ctx);
let session: Session | undefined;
process.send!({ kind: "listening", addresses: Object.fromEntries(node.listening) });
const fail = (err: unknown) => process.send!({ kind: "error", message: String(err) });
process.on("message", (m: ParentMessage) => {
  if (m.kind === "config") {
    snapshotOf(m.snapshotFile)
      .then((s) => node.config.set(s))
      .then(() => process.send!({ kind: "applied" }), fail);
  } else if (m.kind === "profile-start") {
    session = new Session();
    session.connect();
    void (async () => {
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: 200 });
      await session.post("Profiler.start");
      process.send!({ kind: "profiled" });
    })().catch(fail);
  } else if (m.kind === "profile-stop") {
    void (async () => {
      const { profile } = await session!.post("Profiler.stop");
      await writeFile(m.file, JSON.stringify(profile));
      session!.disconnect();
      session = undefined;
      process.send!({ kind: "profiled" });
    })().catch(fail);
  } else if (m.kind === "memory") {
    (globalThis as { gc?: () => void }).gc?.();
    if (m.heapSnapshot !== undefined) v8.writeHeapSnapshot(m.heapSnapshot);
    const heapSpaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_size / 1024)]));
    process.send!({ kind: "memory", usage: process.memoryUsage(), heapSpaces });
  } else if (m.kind === "stop") {
    void dp.close().then(() => node.ctx.hbone.connector.close()).finally(() => process.exit(0));
  }
});
