/**
 * Identity issuer throughput, against the raw primitive in the same process:
 * X.509-SVID issuance (parse + verify a CSR, then sign a leaf) against bare
 * `crypto.subtle.sign(ECDSA P-256)`, and JWT-SVID validation against a bare
 * `crypto.subtle.verify(ECDSA P-256)` of the same token, all measured in one run.
 * Also prints the floors the goals run into: the asn1 parse calls and the WebCrypto
 * calls issuance makes, each alone, and jose's compact JWS verify alone.
 *
 *   node --import tsx bench/identity.ts     (or `npm run bench identity`)
 */
import os from "node:os";
import { compactVerify } from "jose";
import { AsnConvert, type IAsnParseOptions } from "@peculiar/asn1-schema";
import { CertificationRequest } from "@peculiar/asn1-csr";
import { ECDSASigValue } from "@peculiar/asn1-ecc";
import { Extensions, SubjectAlternativeName } from "@peculiar/asn1-x509";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { systemClock } from "../src/core/clock.ts";
import { createIntermediateCa, createRootCa, loadSigningCa } from "../src/identity/ca.ts";
import { parseCsr } from "../src/identity/csr.ts";
import { generateJwtSigningKeyPem, importJwtSigningKey } from "../src/identity/jwt-key.ts";
import { mintJwtSvid, validateJwtSvid } from "../src/identity/jwt-svid.ts";
import { JwtSvidCache } from "../src/identity/jwt-svid-cache.ts";
import { SpiffeId } from "../src/identity/spiffe-id.ts";
import { issueX509Svid } from "../src/identity/x509-svid.ts";
import { decodeSinglePem, x509 } from "../src/identity/x509.ts";
import type { TrustBundleSet } from "../src/identity/bundle.ts";

/** The parse options src/identity/csr.ts uses. */
const NO_EMBEDDED: IAsnParseOptions = { berOptions: { parseEmbedded: false } };

export interface BenchIdentityOptions {
  /** Time spent on each measurement. Default 3000 ms. */
  durationMs?: number;
  /** Time each operation runs before it is measured. Default 1000 ms. */
  warmupMs?: number;
  /** Print the table (default true). */
  print?: boolean;
}

/** Runs `op` back to back for at least `ms` (and 20 times), so V8 has optimised its code before it is measured. */
async function warmUp(ms: number, op: () => Promise<unknown>): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < 20 || performance.now() - start < ms; i++) await op();
}

/**
 * Rates of `ops` measured interleaved in short slices, so a machine whose load changes
 * during the run (a shared CI box) slows them alike and their ratios hold. Each op is
 * warmed up first (the steady state is what a long-running issuer sees) and then gets
 * about `durationMs` of measured time.
 */
async function rateGroup(durationMs: number, warmupMs: number, ops: ReadonlyArray<() => Promise<unknown>>): Promise<number[]> {
  for (const op of ops) await warmUp(warmupMs, op);
  const counts = ops.map(() => 0);
  const times = ops.map(() => 0);
  const slice = 50;
  const start = performance.now();
  while (performance.now() - start < ops.length * durationMs) {
    for (const [k, op] of ops.entries()) {
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
  return counts.map((n, k) => (n * 1000) / (times[k] ?? 1));
}

/**
 * Measures the identity hot paths. Returns operations per second (and ratios to
 * the raw ECDSA P-256 sign rate), keyed by name.
 */
export async function benchIdentity(options: BenchIdentityOptions = {}): Promise<Record<string, number>> {
  const durationMs = options.durationMs ?? 3000;
  const warmupMs = options.warmupMs ?? 1000;
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
  const parsed = await parseCsr(csrPem, id);
  const jwtKey = await importJwtSigningKey(await generateJwtSigningKeyPem());
  const audience = `spiffe://${td}/ns/bench/sa/db`;

  // Floors of issuance: the same library parse calls parseCsr makes, and the same WebCrypto
  // calls (key import, PoP verify, SHA-1 key identifier, leaf signature), each alone.
  const csrDer = x509.PemConverter.decodeFirst(csrPem);
  const csrAsn = AsnConvert.parse(csrDer, CertificationRequest);
  const csrTbs = csrAsn.certificationRequestInfoRaw as ArrayBuffer;
  const csrPoint = new Uint8Array(csrAsn.certificationRequestInfo.subjectPKInfo.subjectPublicKey);
  const csrSignature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, csrTbs);
  const libraryParse = async (): Promise<unknown> => {
    const asn = AsnConvert.parse(decodeSinglePem(csrPem, ["CERTIFICATE REQUEST"], "csr"), CertificationRequest, NO_EMBEDDED);
    const attribute = asn.certificationRequestInfo.attributes[0]?.values[0] as ArrayBuffer;
    const [extension] = AsnConvert.parse(attribute, Extensions, NO_EMBEDDED);
    return [AsnConvert.parse(asn.signature, ECDSASigValue, NO_EMBEDDED), extension && AsnConvert.parse(extension.extnValue, SubjectAlternativeName, NO_EMBEDDED)];
  };
  const webCryptoCalls = async (): Promise<unknown> => {
    const ski = crypto.subtle.digest("SHA-1", csrPoint);
    const key = await crypto.subtle.importKey("raw", csrPoint, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, csrSignature, csrTbs);
    await ski;
    return crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, ca.privateKey, payload);
  };

  const [rawSign = 0, x509Issue = 0, csrParse = 0, x509SignOnly = 0, parseFloor = 0, cryptoFloor = 0, jwtMint = 0] = await rateGroup(durationMs, warmupMs, [
    () => crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, ca.privateKey, payload),
    async () => issueX509Svid({ csr: await parseCsr(csrPem, id), spiffeId: id, ca, clock, ttlSeconds: 3600 }),
    // The two halves, to show where the time goes.
    () => parseCsr(csrPem, id),
    () => issueX509Svid({ csr: parsed, spiffeId: id, ca, clock, ttlSeconds: 3600 }),
    libraryParse,
    webCryptoCalls,
    () => mintJwtSvid({ spiffeId: id, audience: [audience], key: jwtKey, clock, ttlSeconds: 300 }),
  ]);

  const { token } = await mintJwtSvid({ spiffeId: id, audience: [audience], key: jwtKey, clock, ttlSeconds: 300 });
  const bundles: TrustBundleSet = new Map([
    [td, { trustDomain: td, x509AuthoritiesDer: [], jwtAuthorities: new Map([[jwtKey.kid, jwtKey.publicJwk]]) }],
  ]);
  // The peer of validation: one raw ES256 verify of the same signing input with an already imported key.
  const [h, p, sig] = token.split(".") as [string, string, string];
  const signingInput = new TextEncoder().encode(`${h}.${p}`);
  const signature = Buffer.from(sig, "base64url");
  const verifyKey = await crypto.subtle.importKey("jwk", { ...jwtKey.publicJwk, ext: true }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const joseKey = await crypto.subtle.importKey("jwk", { ...jwtKey.publicJwk, ext: true }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  // What the edge ingress and the control API use: a token seen before is answered from the verified-token cache.
  const cache = new JwtSvidCache();
  const [rawVerify = 0, jwtValidate = 0, joseFloor = 0] = await rateGroup(durationMs, warmupMs, [
    () => crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, verifyKey, signature, signingInput),
    // A full validation every time (a token never seen before).
    () => validateJwtSvid(token, { audience, bundles, clock }),
    // Floor of validation with jose: its compact JWS verify alone, same token and an imported key.
    () => compactVerify(token, joseKey, { algorithms: ["ES256"] }),
  ]);
  // Measured on its own: interleaved with the others, its million allocations a second leave
  // garbage that is collected during their slices and skews their ratios.
  const [jwtValidateCached = 0] = await rateGroup(durationMs, warmupMs, [() => cache.validate(token, { audience, bundles, clock })]);

  const results: Record<string, number> = {
    ecdsaP256SignPerSec: rawSign,
    x509SvidIssuePerSec: x509Issue,
    csrParsePerSec: csrParse,
    x509SvidSignOnlyPerSec: x509SignOnly,
    csrLibraryParseOnlyPerSec: parseFloor,
    issuanceWebCryptoOnlyPerSec: cryptoFloor,
    jwtSvidMintPerSec: jwtMint,
    jwtSvidValidatePerSec: jwtValidate,
    joseCompactVerifyPerSec: joseFloor,
    ecdsaP256VerifyPerSec: rawVerify,
    x509IssueVsRawSign: x509Issue / rawSign,
    jwtMintVsRawSign: jwtMint / rawSign,
    jwtValidateVsRawVerify: jwtValidate / rawVerify,
    jwtSvidValidateCachedPerSec: jwtValidateCached,
    jwtValidateCachedVsRawVerify: jwtValidateCached / rawVerify,
  };

  if (options.print ?? true) {
    const cpu = os.cpus()[0]?.model ?? "unknown cpu";
    const fmt = (n: number): string => n.toFixed(0).padStart(8);
    const x = (n: number, base: number, digits = 3): string => `${(n / base).toFixed(digits)}x`;
    console.log(`identity bench — ${cpu}, ${os.cpus().length} cores, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}, ~${durationMs} ms per measurement after ${warmupMs} ms warm-up`);
    console.log(`  crypto.subtle.sign ECDSA P-256      ${fmt(rawSign)} /s   (baseline)`);
    console.log(`  X.509-SVID issue (parse CSR + sign) ${fmt(x509Issue)} /s   ${x(x509Issue, rawSign)} of raw sign`);
    console.log(`    of which CSR parse + PoP verify    ${fmt(csrParse)} /s   ${x(csrParse, rawSign)} of raw sign`);
    console.log(`    of which leaf build + sign         ${fmt(x509SignOnly)} /s   ${x(x509SignOnly, rawSign)} of raw sign`);
    console.log(`    floor: asn1 parse calls alone      ${fmt(parseFloor)} /s   ${x(parseFloor, rawSign)} of raw sign`);
    console.log(`    floor: WebCrypto calls alone       ${fmt(cryptoFloor)} /s   ${x(cryptoFloor, rawSign)} of raw sign`);
    console.log(`    both floors, nothing else: <= ${x(1 / (1 / parseFloor + 1 / cryptoFloor), rawSign)} of raw sign`);
    console.log(`  JWT-SVID mint                       ${fmt(jwtMint)} /s   ${x(jwtMint, rawSign, 2)} of raw sign`);
    console.log(`  crypto.subtle.verify ECDSA P-256    ${fmt(rawVerify)} /s   (baseline for validation)`);
    console.log(`  JWT-SVID validate, full (new token)  ${fmt(jwtValidate)} /s   ${x(jwtValidate, rawVerify, 2)} of raw verify`);
    console.log(`    floor: jose compactVerify alone    ${fmt(joseFloor)} /s   ${x(joseFloor, rawVerify, 2)} of raw verify`);
    console.log(`  JWT-SVID validate, token seen before ${fmt(jwtValidateCached)} /s   ${x(jwtValidateCached, rawVerify, 1)} of raw verify (verified-token cache)`);
    console.log(`  ratios (goals: issue >= 0.15x raw sign, validate >= 0.8x raw verify):`);
    console.log(`    x509IssueVsRawSign=${(x509Issue / rawSign).toFixed(3)} jwtValidateVsRawVerify=${(jwtValidate / rawVerify).toFixed(3)} (full) jwtValidateCachedVsRawVerify=${(jwtValidateCached / rawVerify).toFixed(1)} (seen before)`);
  }
  return results;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await benchIdentity();
}
