/**
 * A throwaway CA for tests: a root, an intermediate and a JWT signing key made
 * with the identity modules, the secrets the control worker reads, and the
 * openssl CLI helpers tests use to make CSRs and verify what the issuer returns.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { systemClock, type Clock } from "../../src/core/clock.ts";
import { createIntermediateCa, createRootCa, type CaKeyPair } from "../../src/identity/ca.ts";
import { generateJwtSigningKeyPem } from "../../src/identity/jwt-key.ts";
import { DEFAULT_TRUST_DOMAIN } from "../../src/identity/spiffe-id.ts";

export interface ThrowawayCa {
  trustDomain: string;
  root: CaKeyPair;
  intermediate: CaKeyPair;
  jwtSigningKeyPem: string;
  adminToken: string;
  /** Secrets and vars for `startControlWorker({ vars })`. */
  vars: Record<string, string>;
  /** Another intermediate under the same root, e.g. for rotation. */
  newIntermediate(ttlSeconds?: number): Promise<CaKeyPair>;
}

function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

/**
 * `clock`: a test that runs the issuer with a fixed `now` must build its CA with that same
 * clock, or the CA is not valid at `now` once the calendar moves on.
 */
export async function createThrowawayCa(o: { trustDomain?: string; clock?: Clock } = {}): Promise<ThrowawayCa> {
  const trustDomain = o.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const clock = o.clock ?? systemClock;
  const root = await createRootCa({ trustDomain, clock, ttlSeconds: 7 * 86400 });
  const newIntermediate = (ttlSeconds = 2 * 86400) => createIntermediateCa(root, { trustDomain, clock, ttlSeconds });
  const intermediate = await newIntermediate();
  const jwtSigningKeyPem = await generateJwtSigningKeyPem();
  const adminToken = `admin-${randomSecret()}`;
  return {
    trustDomain,
    root,
    intermediate,
    jwtSigningKeyPem,
    adminToken,
    newIntermediate,
    vars: {
      TRUST_DOMAIN: trustDomain,
      ADMIN_TOKEN: adminToken,
      CA_ROOT_CERT: root.certificatePem,
      CA_INTERMEDIATE_CERT: intermediate.certificatePem,
      CA_INTERMEDIATE_KEY: intermediate.privateKeyPem,
      JWT_SIGNING_KEY: jwtSigningKeyPem,
      CA_KEK: randomSecret(),
    },
  };
}

const run = promisify(execFile);

/** Runs `fn` with a fresh temp dir, removed afterwards. */
async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "strait-ca-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Key types `opensslCsr` can make; only p256 and RSA >= 2048 are acceptable to the issuer. */
export type CsrKeyType = "p256" | "rsa2048" | "rsa3072" | "rsa1024" | "p384" | "secp256k1" | "ed25519";

const NEW_KEY_ARGS: Record<CsrKeyType, string[]> = {
  p256: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
  rsa2048: ["-newkey", "rsa:2048"],
  rsa3072: ["-newkey", "rsa:3072"],
  rsa1024: ["-newkey", "rsa:1024"],
  p384: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
  secp256k1: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"],
  ed25519: ["-newkey", "ed25519"],
};

/** A real PKCS#10 CSR from the openssl CLI with a fresh key (P-256 unless `key` says otherwise) and the given URI SANs. */
export function opensslCsr(o: { uris?: string[]; key?: CsrKeyType } = {}): Promise<string> {
  return inTempDir(async (dir) => {
    const args = ["req", "-new", ...NEW_KEY_ARGS[o.key ?? "p256"], "-nodes", "-keyout", join(dir, "key.pem"), "-subj", "/O=strait-test", "-out", join(dir, "csr.pem")];
    if (o.uris !== undefined && o.uris.length > 0) args.push("-addext", `subjectAltName=${o.uris.map((u) => `URI:${u}`).join(",")}`);
    await run("openssl", args);
    return readFile(join(dir, "csr.pem"), "utf8");
  });
}

/** `openssl verify -CAfile root -untrusted intermediate leaf`; resolves to openssl's output, rejects if verification fails. */
export function opensslVerify(rootPem: string, intermediatePem: string, leafPem: string): Promise<string> {
  return inTempDir(async (dir) => {
    await Promise.all([writeFile(join(dir, "root.pem"), rootPem), writeFile(join(dir, "int.pem"), intermediatePem), writeFile(join(dir, "leaf.pem"), leafPem)]);
    const { stdout } = await run("openssl", ["verify", "-CAfile", join(dir, "root.pem"), "-untrusted", join(dir, "int.pem"), join(dir, "leaf.pem")]);
    return stdout.trim();
  });
}

/** The certificate's fields as openssl prints them (`openssl x509 -noout -text`). */
export function opensslText(certPem: string): Promise<string> {
  return inTempDir(async (dir) => {
    await writeFile(join(dir, "c.pem"), certPem);
    const { stdout } = await run("openssl", ["x509", "-noout", "-text", "-in", join(dir, "c.pem")]);
    return stdout;
  });
}
