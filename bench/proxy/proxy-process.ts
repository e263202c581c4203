/**
 * One node proxy of the benchmark, in its own process so its CPU time and RSS are its own.
 * Reads the CA and the mesh YAML from the file named by argv[2], issues its SVIDs with the
 * issuer code, starts the real data plane and HBONE transport, and talks to the parent over IPC:
 *   -> { kind: "listening", addresses }       once listening
 *   <- { kind: "config", yaml }               swap in a new snapshot (e.g. with peer ports)
 *   -> { kind: "applied" }
 *   <- { kind: "stop" }
 */
import { readFile } from "node:fs/promises";
import { loadSigningCa } from "../../src/identity/ca.ts";
import { startDataPlane } from "../../src/node-proxy/data-plane.ts";
import { nodeSnapshots, parseResources, staticNode, type StaticCa } from "./static-mesh.ts";

export interface ProxyProcessInput {
  cluster: string;
  node: string;
  trustDomain: string;
  rootPem: string;
  intermediate: { certificatePem: string; privateKeyPem: string };
  yaml: string;
}

type ParentMessage = { kind: "config"; yaml: string } | { kind: "stop" };

const input = JSON.parse(await readFile(process.argv[2]!, "utf8")) as ProxyProcessInput;
const ca: StaticCa = {
  trustDomain: input.trustDomain,
  rootPem: input.rootPem,
  ca: await loadSigningCa(input.intermediate),
  chainPem: input.intermediate.certificatePem,
};
const key = `${input.cluster}/${input.node}`;
const snapshotOf = (yaml: string) => {
  const s = nodeSnapshots(parseResources(yaml), ca.trustDomain).get(key);
  if (s === undefined) throw new Error(`no snapshot for ${key}`);
  return s;
};
const node = await staticNode({ ca, cluster: input.cluster, node: input.node, snapshot: snapshotOf(input.yaml) });
const dp = await startDataPlane(node.ctx);
process.send!({ kind: "listening", addresses: Object.fromEntries(node.listening) });
process.on("message", (m: ParentMessage) => {
  if (m.kind === "config") {
    node.config.set(snapshotOf(m.yaml)).then(
      () => process.send!({ kind: "applied" }),
      (err: unknown) => process.send!({ kind: "error", message: String(err) }),
    );
  } else if (m.kind === "stop") {
    void dp.close().then(() => node.ctx.hbone.connector.close()).finally(() => process.exit(0));
  }
});
