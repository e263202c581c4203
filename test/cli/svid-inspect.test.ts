import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ManualClock } from "../../src/core/clock.ts";
import { createIntermediateCa, createRootCa, loadSigningCa, type CaKeyPair } from "../../src/identity/ca.ts";
import { parseCsr } from "../../src/identity/csr.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { issueX509Svid, type IssuedX509Svid } from "../../src/identity/x509-svid.ts";
import { opensslCsr } from "../support/throwaway-ca.ts";
import { show, strait } from "./support/run-cli.ts";

const openssl = promisify(execFile);
const DAY = 86_400_000;
const workloadId = "spiffe://strait.local/ns/default/sa/reviews";

let dir: string;
let root: CaKeyPair;
let live: IssuedX509Svid;
let expired: IssuedX509Svid;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "strait-cli-svid-"));
  const now = Date.now();
  const caClock = new ManualClock(now - 30 * DAY);
  root = await createRootCa({ trustDomain: "strait.local", clock: caClock });
  const intermediate = await createIntermediateCa(root, { trustDomain: "strait.local", clock: caClock });
  const ca = await loadSigningCa(intermediate);
  const id = SpiffeId.parse(workloadId);
  live = await issueX509Svid({ csr: await parseCsr(await opensslCsr({ uris: [workloadId] }), id), spiffeId: id, ca, clock: new ManualClock(now), ttlSeconds: 3600 });
  expired = await issueX509Svid({ csr: await parseCsr(await opensslCsr({ uris: [workloadId] }), id), spiffeId: id, ca, clock: new ManualClock(now - 2 * DAY), ttlSeconds: 600 });
  await writeFile(join(dir, "chain.pem"), live.chainPem);
  await writeFile(join(dir, "expired.pem"), expired.certificatePem);
  await writeFile(join(dir, "root.pem"), root.certificatePem);
  await writeFile(join(dir, "not-pem.txt"), "this is not a certificate\n");
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("svid inspect describes every certificate of a chain issued by the identity modules (items cross-checked with openssl)", async () => {
  const r = await strait(["svid", "inspect", join(dir, "chain.pem")]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^Certificate 1 of 2: X\.509-SVID$/m);
  assert.match(r.stdout, new RegExp(`^  SPIFFE ID: +${workloadId.replace(/\./g, "\\.")}$`, "m"));
  assert.match(r.stdout, new RegExp(`^  Serial: +${live.serial}$`, "m"));
  assert.match(r.stdout, /^  Key: +ECDSA P-256$/m);
  assert.match(r.stdout, /^  Ext Key Usage: +.*serverAuth.*clientAuth|clientAuth.*serverAuth/m);
  assert.match(r.stdout, /^  Key Usage: +digitalSignature/m);
  assert.match(r.stdout, /^  Not After: +\S+ \(valid, expires in \d+m\)$/m);
  assert.match(r.stdout, /^Certificate 2 of 2: CA$/m);
  assert.match(r.stdout, /^  CA: +true$/m);
  assert.match(r.stdout, /keyCertSign/);

  // openssl agrees on the serial and the SHA-256 fingerprint of the leaf.
  const { stdout } = await openssl("openssl", ["x509", "-in", join(dir, "chain.pem"), "-noout", "-serial", "-fingerprint", "-sha256"]);
  const serial = /serial=([0-9A-F]+)/.exec(stdout)?.[1];
  const fingerprint = /Fingerprint=([0-9A-F:]+)/.exec(stdout)?.[1];
  assert.ok(serial !== undefined && fingerprint !== undefined, stdout);
  assert.equal(serial.toLowerCase().replace(/^0+/, ""), live.serial.replace(/^0+/, ""));
  assert.match(r.stdout, new RegExp(`^  SHA-256: +${fingerprint}$`, "m"));
});

test("svid inspect -o json gives the structured fields, and flags expiry in the human view", async () => {
  const json = await strait(["svid", "inspect", join(dir, "chain.pem"), "-o", "json"]);
  assert.equal(json.code, 0, show(json));
  const certs = JSON.parse(json.stdout) as { spiffeId: string | null; serial: string; isCa: boolean; notAfter: string; uris: string[] }[];
  assert.equal(certs.length, 2);
  assert.equal(certs[0]!.spiffeId, workloadId);
  assert.equal(certs[0]!.serial, live.serial);
  assert.equal(certs[0]!.isCa, false);
  assert.equal(certs[0]!.notAfter, live.notAfter.toISOString());
  assert.deepEqual(certs[0]!.uris, [workloadId]);
  assert.equal(certs[1]!.isCa, true);

  const old = await strait(["svid", "inspect", join(dir, "expired.pem")]);
  assert.equal(old.code, 0, show(old));
  assert.match(old.stdout, /^Certificate 1 of 1: X\.509-SVID$/m);
  assert.match(old.stdout, /\(EXPIRED (47|48)h ago\)/);

  const rootView = await strait(["svid", "inspect", "-"], { stdin: await readFile(join(dir, "root.pem"), "utf8") });
  assert.equal(rootView.code, 0, show(rootView));
  assert.match(rootView.stdout, /^Certificate 1 of 1: CA$/m);
  assert.match(rootView.stdout, /^  URI SANs: +spiffe:\/\/strait\.local$/m);
});

test("svid inspect refuses what is not a certificate: exit 1 for bad PEM, exit 2 for a missing file", async () => {
  const bad = await strait(["svid", "inspect", join(dir, "not-pem.txt")]);
  assert.equal(bad.code, 1, show(bad));
  assert.match(bad.stderr, /^error: pem: no PEM block found \(ERR_PEM_INVALID\)$/m);
  assert.equal(bad.stdout, "");

  const keyOnly = await strait(["svid", "inspect", "-"], { stdin: root.privateKeyPem });
  assert.equal(keyOnly.code, 1, show(keyOnly));
  assert.match(keyOnly.stderr, /^error: pem: no CERTIFICATE block found \(ERR_PEM_INVALID\)$/m);

  const missing = await strait(["svid", "inspect", join(dir, "nope.pem")]);
  assert.equal(missing.code, 2, show(missing));
  assert.match(missing.stderr, /FILE: cannot read/);
});
