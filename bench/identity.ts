/**
 * Identity issuer throughput, against the raw primitive in the same process:
 * X.509-SVID issuance (parse + verify a CSR, then sign a leaf) against bare
 * `crypto.subtle.sign(ECDSA P-256)`, and JWT-SVID validation against a bare
 * `crypto.subtle.verify(ECDSA P-256)` of the same token, all measured in one run.
 *
 *   node --import tsx bench/identity.ts     (or `npm run bench identity`)
 */
import os from "node:os";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { systemClock } from "../src/core/clock.ts";
import { createIntermediateCa, createRootCa, loadSigningCa } from "../src/identity/ca.ts";
import { parseCsr } from "../src/identity/csr.ts";
import { generateJwtSigningKeyPem, importJwtSigningKey } from "../src/identity/jwt-key.ts";
import { mintJwtSvid, validateJwtSvid } from "../src/identity/jwt-svid.ts";
import { SpiffeId } from "../src/identity/spiffe-id.ts";
import { issueX509Svid } from "../src/identity/x509-svid.ts";
import { x509 } from "../src/identity/x509.ts";
import type { TrustBundleSet } from "../src/identity/bundle.ts";

export interface BenchIdentityOptions {
  /** Time spent on each measurement. Default 3000 ms. */
  durationMs?: number;
  /** Print the table (default true). */
  print?: boolean;
}

/** Runs `op` back to back for about `durationMs` and returns operations per second. */
async function rate(durationMs: number, op: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await op(); // warm up JIT and key caches
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < durationMs) {
    for (let i = 0; i < 10; i++) await op();
    count += 10;
    elapsed = performance.now() - start;
  }
  return (count * 1000) / elapsed;
}

/**
 * Rates of `a` and `b` measured interleaved in short slices, so a machine whose load
 * changes during the run (a shared CI box) slows both alike and their ratio holds.
 */
async function ratePair(durationMs: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  for (let i = 0; i < 20; i++) {
    await a();
    await b();
  }
  const counts = [0, 0];
  const times = [0, 0];
  const ops = [a, b];
  const slice = 50;
  const start = performance.now();
  while (performance.now() - start < 2 * durationMs) {
    for (let k = 0; k < 2; k++) {
      const op = ops[k] as () => Promise<unknown>;
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < slice) {
        await op();
        n++;
      }
      counts[k] = (counts[k] ?? 0) + n;
      times[k] = (times[k] ?? 0) + (performance.now() - t0);
    }
  }
  return [((counts[0] ?? 0) * 1000) / (times[0] ?? 1), ((counts[1] ?? 0) * 1000) / (times[1] ?? 1)];
}

/**
 * Measures the identity hot paths. Returns operations per second (and ratios to
 * the raw ECDSA P-256 sign rate), keyed by name.
 */
export async function benchIdentity(options: BenchIdentityOptions = {}): Promise<Record<string, number>> {
  const durationMs = options.durationMs ?? 3000;
  const td = "strait.local";
  const clock = systemClock;
  const root = await createRootCa({ trustDomain: td, clock });
  const ca = await loadSigningCa(await createIntermediateCa(root, { trustDomain: td, clock }));
  const id = SpiffeId.fromPath(td, "/ns/bench/sa/web");

  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const csrPem = (
    await x509.Pkcs10CertificateRequestGenerator.create({
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: "url", value: id.toString() }])],
    })
  ).toString("pem");

  const payload = crypto.getRandomValues(new Uint8Array(512));
  const [rawSign, x509Issue] = await ratePair(
    durationMs,
    () => crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, ca.privateKey, payload),
    async () => issueX509Svid({ csr: await parseCsr(csrPem, id), spiffeId: id, ca, clock, ttlSeconds: 3600 }),
  );
  // The two halves, to show where the time goes.
  const csrParse = await rate(durationMs, () => parseCsr(csrPem, id));
  const parsed = await parseCsr(csrPem, id);
  const x509SignOnly = await rate(durationMs, () => issueX509Svid({ csr: parsed, spiffeId: id, ca, clock, ttlSeconds: 3600 }));

  const jwtKey = await importJwtSigningKey(await generateJwtSigningKeyPem());
  const audience = `spiffe://${td}/ns/bench/sa/db`;
  const jwtMint = await rate(durationMs, () => mintJwtSvid({ spiffeId: id, audience: [audience], key: jwtKey, clock, ttlSeconds: 300 }));
  const { token } = await mintJwtSvid({ spiffeId: id, audience: [audience], key: jwtKey, clock, ttlSeconds: 300 });
  const bundles: TrustBundleSet = new Map([
    [td, { trustDomain: td, x509AuthoritiesDer: [], jwtAuthorities: new Map([[jwtKey.kid, jwtKey.publicJwk]]) }],
  ]);
  // The peer of validation: one raw ES256 verify of the same signing input with an already imported key.
  const [h, p, sig] = token.split(".") as [string, string, string];
  const signingInput = new TextEncoder().encode(`${h}.${p}`);
  const signature = Buffer.from(sig, "base64url");
  const verifyKey = await crypto.subtle.importKey("jwk", { ...jwtKey.publicJwk, ext: true }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const [rawVerify, jwtValidate] = await ratePair(
    durationMs,
    () => crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, verifyKey, signature, signingInput),
    () => validateJwtSvid(token, { audience, bundles, clock }),
  );

  const results: Record<string, number> = {
    ecdsaP256SignPerSec: rawSign,
    x509SvidIssuePerSec: x509Issue,
    csrParsePerSec: csrParse,
    x509SvidSignOnlyPerSec: x509SignOnly,
    jwtSvidMintPerSec: jwtMint,
    jwtSvidValidatePerSec: jwtValidate,
    ecdsaP256VerifyPerSec: rawVerify,
    x509IssueVsRawSign: x509Issue / rawSign,
    jwtMintVsRawSign: jwtMint / rawSign,
    jwtValidateVsRawVerify: jwtValidate / rawVerify,
  };

  if (options.print ?? true) {
    const cpu = os.cpus()[0]?.model ?? "unknown cpu";
    const fmt = (n: number): string => n.toFixed(0).padStart(8);
    console.log(`identity bench — ${cpu}, ${os.cpus().length} cores, node ${process.version}, ~${durationMs} ms per measurement`);
    console.log(`  crypto.subtle.sign ECDSA P-256      ${fmt(rawSign)} /s   (baseline)`);
    console.log(`  X.509-SVID issue (parse CSR + sign) ${fmt(x509Issue)} /s   ${(x509Issue / rawSign).toFixed(3)}x of raw sign`);
    console.log(`    of which CSR parse + PoP verify    ${fmt(csrParse)} /s   ${(csrParse / rawSign).toFixed(3)}x of raw sign`);
    console.log(`    of which leaf build + sign         ${fmt(x509SignOnly)} /s   ${(x509SignOnly / rawSign).toFixed(3)}x of raw sign`);
    console.log(`  JWT-SVID mint                       ${fmt(jwtMint)} /s   ${(jwtMint / rawSign).toFixed(2)}x of raw sign`);
    console.log(`  crypto.subtle.verify ECDSA P-256    ${fmt(rawVerify)} /s   (baseline for validation)`);
    console.log(`  JWT-SVID validate                   ${fmt(jwtValidate)} /s   ${(jwtValidate / rawVerify).toFixed(2)}x of raw verify`);
    console.log(`  ratios (goals: issue >= 0.15x raw sign, validate >= 0.8x raw verify):`);
    console.log(`    x509IssueVsRawSign=${(x509Issue / rawSign).toFixed(3)} jwtValidateVsRawVerify=${(jwtValidate / rawVerify).toFixed(3)}`);
  }
  return results;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await benchIdentity();
}
