import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, verify as nodeVerify } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startModuleWorker } from "../support/workerd-module.ts";
import { FlattenedSign, SignJWT, UnsecuredJWT, base64url, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from "jose";
import type { JWTPayload, JWSHeaderParameters } from "jose";
import { ManualClock } from "../../src/core/clock.ts";
import { ValidationError } from "../../src/core/errors.ts";
import { buildSpiffeBundle, parseSpiffeBundle, trustBundleSet, type TrustBundle, type TrustBundleSet } from "../../src/identity/bundle.ts";
import { JwtSvidError, PemError } from "../../src/identity/errors.ts";
import { generateJwtSigningKeyPem, importJwtSigningKey, type JwtSigningKey } from "../../src/identity/jwt-key.ts";
import { mintJwtSvid, validateJwtSvid } from "../../src/identity/jwt-svid.ts";
import { SpiffeId, workloadId } from "../../src/identity/spiffe-id.ts";
import { projectRoot } from "../support/control-worker.ts";

const run = promisify(execFile);
const TD = "strait.local";
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const NOW_S = T0 / 1000;
const AUD = "spiffe://strait.local/ns/db/sa/pg";
const SUB = workloadId(TD, "web", "frontend");

let dir: string;
let opensslKeyPem: string;
let opensslPublicPem: string;
let key: JwtSigningKey;
let bundles: TrustBundleSet;

/** Records every trust-domain lookup, to prove a refusal happened before any key was touched. */
class LookupRecorder extends Map<string, TrustBundle> {
  lookups = 0;
  override get(td: string): TrustBundle | undefined {
    this.lookups++;
    return super.get(td);
  }
}

function bundleFor(td: string, authorities: { kid: string; publicJwk: JsonWebKey }[]): TrustBundle {
  return parseSpiffeBundle(td, buildSpiffeBundle({ x509AuthoritiesPem: [], jwtAuthorities: authorities, sequence: 1, refreshHintSeconds: 300 }));
}

function claims(extra: JWTPayload = {}): JWTPayload {
  return { sub: SUB.toString(), aud: AUD, iat: NOW_S, exp: NOW_S + 300, ...extra };
}

async function signWith(signingKey: CryptoKey | Uint8Array, header: JWSHeaderParameters & { alg: string }, payload: JWTPayload): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(signingKey);
}

/** Builds a compact token by hand, for headers jose refuses to sign (unknown alg). */
function craft(header: Record<string, unknown>, payload: Record<string, unknown>, signature = "c2ln"): string {
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o));
  return `${enc(header)}.${enc(payload)}.${signature}`;
}

async function refused(
  token: string,
  fragment: string,
  opts: { bundles?: TrustBundleSet; audience?: string; leewaySeconds?: number; clock?: ManualClock } = {},
): Promise<void> {
  await assert.rejects(
    validateJwtSvid(token, { audience: opts.audience ?? AUD, bundles: opts.bundles ?? bundles, clock: opts.clock ?? new ManualClock(T0), leewaySeconds: opts.leewaySeconds }),
    (err: unknown) => {
      assert.ok(err instanceof JwtSvidError, `expected JwtSvidError, got ${String(err)}`);
      assert.equal(err.code, "ERR_JWT_SVID_INVALID");
      assert.equal(err.category, "unauthenticated");
      assert.ok(err.message.includes(fragment), `${JSON.stringify(err.message)} should include ${JSON.stringify(fragment)}`);
      if (token.length > 20) assert.ok(!err.message.includes(token), "the message never echoes the token");
      return true;
    },
  );
}

async function ourToken(extra: JWTPayload = {}, header: Partial<JWSHeaderParameters> = {}): Promise<string> {
  return signWith(key.privateKey, { alg: "ES256", kid: key.kid, typ: "JWT", ...header }, claims(extra));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "strait-jwt-"));
  const keyFile = join(dir, "jwt.key");
  await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyFile]);
  await run("openssl", ["pkey", "-in", keyFile, "-pubout", "-out", `${keyFile}.pub`]);
  opensslKeyPem = await readFile(keyFile, "utf8");
  opensslPublicPem = await readFile(`${keyFile}.pub`, "utf8");
  key = await importJwtSigningKey(opensslKeyPem);
  bundles = trustBundleSet([bundleFor(TD, [{ kid: key.kid, publicJwk: key.publicJwk }])]);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("jwt-key: the ES256 signing key", () => {
  test("imports an openssl-generated PKCS#8 P-256 key; publicJwk is openssl's public key", async () => {
    assert.equal(key.alg, "ES256");
    assert.deepEqual(Object.keys(key.publicJwk).sort(), ["crv", "kty", "x", "y"]);
    const fromJwk = await crypto.subtle.importKey("jwk", key.publicJwk, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    const { stdout } = await run("openssl", ["pkey", "-pubin", "-in", join(dir, "jwt.key.pub"), "-outform", "DER"], { encoding: "buffer" });
    assert.deepEqual(Buffer.from(await crypto.subtle.exportKey("spki", fromJwk)), stdout);
    assert.equal(key.privateKey.extractable, false);
  });

  test("kid is the RFC 7638 SHA-256 thumbprint", () => {
    const { crv, kty, x, y } = key.publicJwk;
    const canonical = JSON.stringify({ crv, kty, x, y });
    assert.equal(key.kid, createHash("sha256").update(canonical).digest("base64url"));
  });

  test("generateJwtSigningKeyPem produces a P-256 PKCS#8 PEM that openssl reads; kid is stable across imports", async () => {
    const pem = await generateJwtSigningKeyPem();
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    const { stdout } = await run("sh", ["-c", `printf '%s' "$PEM" | openssl pkey -noout -text`], { env: { ...process.env, PEM: pem } });
    assert.match(stdout, /ASN1 OID: prime256v1/);
    const a = await importJwtSigningKey(pem);
    const b = await importJwtSigningKey(pem);
    assert.equal(a.kid, b.kid);
    assert.notEqual(a.kid, key.kid);
  });

  test("refuses keys that are not PKCS#8 P-256, naming the field", async () => {
    const p384 = join(dir, "p384.key");
    const rsa = join(dir, "rsa.key");
    const sec1 = join(dir, "sec1.key");
    await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", p384]);
    await run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa]);
    await run("openssl", ["ec", "-in", join(dir, "jwt.key"), "-out", sec1]);
    for (const pem of [await readFile(p384, "utf8"), await readFile(rsa, "utf8"), await readFile(sec1, "utf8"), "", "hello", opensslPublicPem]) {
      await assert.rejects(importJwtSigningKey(pem), (err: unknown) => err instanceof PemError && err.field === "jwtSigningKey");
    }
  });
});

describe("mintJwtSvid (items 62-72)", () => {
  test("items 62, 63, 65, 66, 67: compact JWS with header exactly {alg: ES256, kid, typ: JWT}", async () => {
    const { token } = await mintJwtSvid({ spiffeId: SUB, audience: [AUD], key, clock: new ManualClock(T0), ttlSeconds: 300 });
    assert.equal(token.split(".").length, 3);
    assert.deepEqual(decodeProtectedHeader(token), { alg: "ES256", kid: key.kid, typ: "JWT" });
    assert.ok(bundles.get(TD)?.jwtAuthorities.has(key.kid), "kid names a jwt-svid key in our bundle");
  });

  test("items 68-71: sub, aud, integer iat and exp = iat + ttl; expiresAt matches", async () => {
    const clock = new ManualClock(T0 + 999); // sub-second time must not leak into NumericDates
    const { token, expiresAt } = await mintJwtSvid({ spiffeId: SUB, audience: [AUD], key, clock, ttlSeconds: 300 });
    const payload = decodeJwt(token);
    assert.deepEqual(payload, { aud: AUD, sub: SUB.toString(), iat: NOW_S, exp: NOW_S + 300 });
    assert.ok(Number.isInteger(payload.iat) && Number.isInteger(payload.exp));
    assert.equal(expiresAt.getTime(), (NOW_S + 300) * 1000);
    const raw = Buffer.from(token.split(".")[1] ?? "", "base64url").toString();
    assert.doesNotMatch(raw, /[0-9]\.[0-9]|e\+/, "no float or exponent NumericDates");
  });

  test("item 69: several audiences are emitted as an array", async () => {
    const { token } = await mintJwtSvid({ spiffeId: SUB, audience: [AUD, "spiffe://strait.local/ns/db/sa/replica"], key, clock: new ManualClock(T0), ttlSeconds: 60 });
    assert.deepEqual(decodeJwt(token).aud, [AUD, "spiffe://strait.local/ns/db/sa/replica"]);
  });

  test("item 72: the signature is raw r||s (64 bytes) and verifies with Node's own ECDSA against openssl's public key", async () => {
    const { token } = await mintJwtSvid({ spiffeId: SUB, audience: [AUD], key, clock: new ManualClock(T0), ttlSeconds: 60 });
    const [h, p, s] = token.split(".") as [string, string, string];
    const sig = Buffer.from(s, "base64url");
    assert.equal(sig.length, 64);
    assert.ok(nodeVerify("sha256", Buffer.from(`${h}.${p}`), { key: opensslPublicPem, dsaEncoding: "ieee-p1363" }, sig));
    // And jose, independently of our validator.
    const pub = await crypto.subtle.importKey("jwk", key.publicJwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    const { payload } = await jwtVerify(token, pub, { audience: AUD, currentDate: new Date(T0) });
    assert.equal(payload.sub, SUB.toString());
  });

  test("item 69: refuses to mint without an audience (a client mistake: ValidationError naming the field)", async () => {
    for (const [audience, field] of [[[], "audience"], [[""], "audience[0]"], [[AUD, 7 as unknown as string], "audience[1]"]] as const) {
      await assert.rejects(
        mintJwtSvid({ spiffeId: SUB, audience: [...audience], key, clock: new ManualClock(T0), ttlSeconds: 60 }),
        (err: unknown) => err instanceof ValidationError && err.field === field && err.category === "invalid",
      );
    }
  });

  test("item 70: ttl must be 1..3600 seconds (TypeError: caller misuse)", async () => {
    for (const ttlSeconds of [0, -5, 3601, 1.5, Number.NaN]) {
      await assert.rejects(mintJwtSvid({ spiffeId: SUB, audience: [AUD], key, clock: new ManualClock(T0), ttlSeconds }), TypeError);
    }
    const { expiresAt } = await mintJwtSvid({ spiffeId: SUB, audience: [AUD], key, clock: new ManualClock(T0), ttlSeconds: 3600 });
    assert.equal(expiresAt.getTime(), T0 + 3600_000);
  });

  test("item 68: the subject has a non-root path in our own trust domain", async () => {
    await assert.rejects(
      mintJwtSvid({ spiffeId: SpiffeId.parse("spiffe://strait.local"), audience: [AUD], key, clock: new ManualClock(T0), ttlSeconds: 60 }),
      /non-root path/,
    );
    await assert.rejects(
      mintJwtSvid({ spiffeId: SpiffeId.parse("spiffe://other.org/x"), audience: [AUD], key, clock: new ManualClock(T0), ttlSeconds: 60, trustDomain: TD }),
      /must be in trust domain strait.local/,
    );
  });
});

describe("validateJwtSvid: accepts (items 79, 83, 84)", () => {
  test("round trip: a minted token validates and reports sub, aud and exp", async () => {
    const { token, expiresAt } = await mintJwtSvid({ spiffeId: SUB, audience: [AUD], key, clock: new ManualClock(T0), ttlSeconds: 300 });
    const v = await validateJwtSvid(token, { audience: AUD, bundles, clock: new ManualClock(T0 + 60_000) });
    assert.ok(v.spiffeId.equals(SUB));
    assert.deepEqual(v.audience, [AUD]);
    assert.equal(v.expiresAt.getTime(), expiresAt.getTime());
    assert.equal(v.claims.sub, SUB.toString());
  });

  test("item 83: aud may be a string or an array containing our audience", async () => {
    const v = await validateJwtSvid(await ourToken({ aud: ["spiffe://strait.local/x", AUD] }), { audience: AUD, bundles, clock: new ManualClock(T0) });
    assert.deepEqual(v.audience, ["spiffe://strait.local/x", AUD]);
    const s = await validateJwtSvid(await ourToken({ aud: AUD }), { audience: AUD, bundles, clock: new ManualClock(T0) });
    assert.deepEqual(s.audience, [AUD]);
  });

  test("item 65/76: typ JOSE or absent is accepted", async () => {
    await validateJwtSvid(await ourToken({}, { typ: "JOSE" }), { audience: AUD, bundles, clock: new ManualClock(T0) });
    const noTyp = await signWith(key.privateKey, { alg: "ES256", kid: key.kid }, claims());
    await validateJwtSvid(noTyp, { audience: AUD, bundles, clock: new ManualClock(T0) });
  });

  test("items 81, 84: exp and nbf within the leeway (default 30 s) are accepted", async () => {
    await validateJwtSvid(await ourToken({ exp: NOW_S - 20 }), { audience: AUD, bundles, clock: new ManualClock(T0) });
    await validateJwtSvid(await ourToken({ nbf: NOW_S + 20 }), { audience: AUD, bundles, clock: new ManualClock(T0) });
  });

  test("RSA (RS256, PS256) and ES384 tokens from a federated trust domain validate against that domain's bundle", async () => {
    const rsa = await generateKeyPair("RS256", { extractable: true });
    const pss = await generateKeyPair("PS256", { extractable: true });
    const p384 = await generateKeyPair("ES384", { extractable: true });
    const set = trustBundleSet([
      bundles.get(TD) as TrustBundle,
      bundleFor("partner.org", [
        { kid: "rsa-1", publicJwk: await exportJWK(rsa.publicKey) },
        { kid: "pss-1", publicJwk: await exportJWK(pss.publicKey) },
        { kid: "ec384-1", publicJwk: await exportJWK(p384.publicKey) },
      ]),
    ]);
    const sub = "spiffe://partner.org/billing";
    for (const [alg, k, kid] of [["RS256", rsa.privateKey, "rsa-1"], ["PS256", pss.privateKey, "pss-1"], ["ES384", p384.privateKey, "ec384-1"]] as const) {
      const token = await signWith(k, { alg, kid, typ: "JWT" }, claims({ sub }));
      const v = await validateJwtSvid(token, { audience: AUD, bundles: set, clock: new ManualClock(T0) });
      assert.equal(v.spiffeId.toString(), sub, alg);
    }
  });
});

describe("validateJwtSvid: refusals (items 73-84)", () => {
  test("item 73: anything but three base64url segments, including JSON serialization", async () => {
    const good = await ourToken();
    const [h, p, s] = good.split(".") as [string, string, string];
    await refused("", "token is missing");
    await refused(`${h}.${p}`, "three base64url segments");
    await refused(`${good}.${s}`, "three base64url segments");
    await refused(`${h}.${p}.`, "three base64url segments");
    await refused(`${h}..${s}`, "three base64url segments");
    await refused(`${h}.${p}.${s}=`, "three base64url segments");
    await refused(` ${good}`, "three base64url segments");
    const flat = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(claims())))
      .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "JWT" })
      .sign(key.privateKey);
    await refused(JSON.stringify(flat), "JSON serialization is not allowed");
    await refused(`${base64url.encode("not json")}.${p}.${s}`, "header is not valid");
    await refused(`${h}.${base64url.encode("[1,2]")}.${s}`, "claims are not a valid JSON object");
    await refused("a".repeat(17 * 1024), "longer than");
  });

  test("item 74: alg none, HS*, EdDSA and unknown algs are refused before any key lookup", async () => {
    const recorder = new LookupRecorder(bundles);
    const none = new UnsecuredJWT(claims()).encode();
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const ed = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const cases: [string, string][] = [
      [none.replace(/\.$/, ".c2ln"), '"none"'],
      [await signWith(secret, { alg: "HS256", kid: key.kid, typ: "JWT" }, claims()), '"HS256"'],
      [await signWith(secret, { alg: "HS384", kid: key.kid, typ: "JWT" }, claims()), '"HS384"'],
      [await signWith(secret, { alg: "HS512", kid: key.kid, typ: "JWT" }, claims()), '"HS512"'],
      [await signWith(ed.privateKey, { alg: "EdDSA", kid: key.kid, typ: "JWT" }, claims()), '"EdDSA"'],
      [craft({ alg: "ES256K", kid: key.kid, typ: "JWT" }, claims()), '"ES256K"'],
      [craft({ alg: "es256", kid: key.kid, typ: "JWT" }, claims()), '"es256"'],
      [craft({ alg: "toString", kid: key.kid }, claims()), '"toString"'],
      [craft({ kid: key.kid, typ: "JWT" }, claims()), "no alg"],
    ];
    for (const [token, fragment] of cases) await refused(token, fragment, { bundles: recorder });
    await refused(none, "three base64url segments", { bundles: recorder });
    assert.equal(recorder.lookups, 0, "no bundle was consulted for a refused alg");
  });

  test("item 76: a typ other than JWT or JOSE is refused", async () => {
    await refused(await ourToken({}, { typ: "at+jwt" }), 'typ "at+jwt"');
    await refused(await ourToken({}, { typ: "jwt" }), 'typ "jwt"');
  });

  test("item 80 (AMBIG, decided: reject): a token without kid is refused", async () => {
    const recorder = new LookupRecorder(bundles);
    await refused(await signWith(key.privateKey, { alg: "ES256", typ: "JWT" }, claims()), "missing key id", { bundles: recorder });
    await refused(craft({ alg: "ES256", kid: 5, typ: "JWT" }, claims()), "kid must be a non-empty string", { bundles: recorder });
    assert.equal(recorder.lookups, 0);
  });

  test("item 78: sub missing or not a SPIFFE ID", async () => {
    await refused(await ourToken({ sub: undefined }), "no sub claim");
    await refused(await ourToken({ sub: "frontend" }), "sub is not a valid SPIFFE ID");
    await refused(await ourToken({ sub: "spiffe://STRAIT.local/ns/web/sa/frontend" }), "sub is not a valid SPIFFE ID");
    await refused(craft({ alg: "ES256", kid: key.kid, typ: "JWT" }, { ...claims(), sub: 42 }), "sub is not a valid SPIFFE ID");
  });

  test("item 79: a sub whose trust domain has no bundle is untrusted; an unknown kid is refused", async () => {
    await refused(await ourToken({ sub: "spiffe://evil.org/ns/web/sa/frontend" }), "no trust bundle for trust domain evil.org");
    await refused(await ourToken({}, { kid: "not-our-kid" }), 'kid "not-our-kid" is not in the bundle for strait.local');
  });

  test("item 79: keys are looked up only in the bundle of sub's trust domain (no pooling across trust domains)", async () => {
    const attacker = await generateKeyPair("ES256", { extractable: true });
    const set = trustBundleSet([bundles.get(TD) as TrustBundle, bundleFor("partner.org", [{ kid: "partner-1", publicJwk: await exportJWK(attacker.publicKey) }])]);
    // partner.org's key signs a token claiming to be a strait.local workload.
    const forged = await signWith(attacker.privateKey, { alg: "ES256", kid: "partner-1", typ: "JWT" }, claims());
    await refused(forged, 'kid "partner-1" is not in the bundle for strait.local', { bundles: set });
    // The same key is fine for its own trust domain.
    const own = await signWith(attacker.privateKey, { alg: "ES256", kid: "partner-1", typ: "JWT" }, claims({ sub: "spiffe://partner.org/x" }));
    assert.equal((await validateJwtSvid(own, { audience: AUD, bundles: set, clock: new ManualClock(T0) })).spiffeId.trustDomain, "partner.org");
  });

  test("item 77: keys named by jwk, jku, x5u or x5c headers are never used", async () => {
    const attacker = await generateKeyPair("ES256", { extractable: true });
    const attackerJwk = await exportJWK(attacker.publicKey);
    // Embedded jwk with our kid: the bundle key is used, so the attacker's signature fails.
    await refused(await signWith(attacker.privateKey, { alg: "ES256", kid: key.kid, typ: "JWT", jwk: attackerJwk }, claims()), "signature verification failed");
    await refused(
      await signWith(attacker.privateKey, { alg: "ES256", kid: key.kid, typ: "JWT", jku: "http://127.0.0.1:1/jwks.json", x5u: "http://127.0.0.1:1/c.pem" }, claims()),
      "signature verification failed",
    );
    // Embedded jwk with its own kid: that kid is not in the bundle.
    await refused(await signWith(attacker.privateKey, { alg: "ES256", kid: "attacker", typ: "JWT", jwk: attackerJwk }, claims()), 'kid "attacker" is not in the bundle');
  });

  test("item 75: alg must match the bundle key's kty and crv", async () => {
    const p384 = await generateKeyPair("ES384");
    const rsa = await generateKeyPair("RS256");
    await refused(await signWith(p384.privateKey, { alg: "ES384", kid: key.kid, typ: "JWT" }, claims()), "alg ES384 does not match the bundle key (kty EC, crv P-256)");
    await refused(await signWith(rsa.privateKey, { alg: "RS256", kid: key.kid, typ: "JWT" }, claims()), "alg RS256 does not match the bundle key (kty EC, crv P-256)");
    const rsaPub = await generateKeyPair("RS256", { extractable: true });
    const set = trustBundleSet([bundleFor(TD, [{ kid: "r", publicJwk: await exportJWK(rsaPub.publicKey) }])]);
    await refused(await signWith(key.privateKey, { alg: "ES256", kid: "r", typ: "JWT" }, claims()), "alg ES256 does not match the bundle key (kty RSA)", { bundles: set });
  });

  test("item 63: an unknown critical header parameter is refused even with a valid signature", async () => {
    const enc = (o: unknown) => base64url.encode(JSON.stringify(o));
    const input = `${enc({ alg: "ES256", kid: key.kid, typ: "JWT", crit: ["x-strait"], "x-strait": true })}.${enc(claims())}`;
    // WebCrypto ECDSA output is already the JWS r||s form.
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, new TextEncoder().encode(input));
    await refused(`${input}.${base64url.encode(new Uint8Array(sig))}`, `"x-strait" is not recognized`);
  });

  test("a tampered payload or a signature by another key fails verification", async () => {
    const [h, , s] = (await ourToken()).split(".") as [string, string, string];
    const evil = base64url.encode(JSON.stringify(claims({ sub: "spiffe://strait.local/ns/kube-system/sa/admin" })));
    await refused(`${h}.${evil}.${s}`, "signature verification failed");
    const other = await generateKeyPair("ES256");
    await refused(await signWith(other.privateKey, { alg: "ES256", kid: key.kid, typ: "JWT" }, claims()), "signature verification failed");
  });

  test("item 81: exp missing or past the leeway is refused", async () => {
    await refused(await ourToken({ exp: undefined }), "no exp claim");
    await refused(await ourToken({ exp: NOW_S - 31 }), "expired");
    await refused(await ourToken({ exp: NOW_S - 5 }), "expired", { leewaySeconds: 0 });
    await refused(craft({ alg: "ES256", kid: key.kid, typ: "JWT" }, { ...claims(), exp: "soon" }), "exp must be a NumericDate");
    await refused(craft({ alg: "ES256", kid: key.kid, typ: "JWT" }, { ...claims(), aud: [AUD, 1] }), "aud must be a string or an array of strings");
    const { token } = await mintJwtSvid({ spiffeId: SUB, audience: [AUD], key, clock: new ManualClock(T0), ttlSeconds: 60 });
    await refused(token, "expired", { clock: new ManualClock(T0 + 91_000) });
  });

  test("issue 6 finding 6: a lifetime (exp - iat, or exp - now without iat) over the maximum is refused", async () => {
    // Default maximum: the longest JWT-SVID Strait mints (3600 s).
    await refused(await ourToken({ iat: NOW_S, exp: NOW_S + 3601 }), "exceeds the maximum of 3600 s");
    await refused(await ourToken({ iat: NOW_S - 86_400, exp: NOW_S + 60 }), "exp - iat = 86460");
    await refused(await ourToken({ iat: undefined, exp: NOW_S + 7200 }), "exp - now = 7200");
    // A configured maximum (the control plane passes JWT_SVID_TTL_SECONDS).
    await assert.rejects(
      validateJwtSvid(await ourToken({ iat: NOW_S, exp: NOW_S + 301 }), { audience: AUD, bundles, clock: new ManualClock(T0), maxLifetimeSeconds: 300 }),
      /exceeds the maximum of 300 s/,
    );
    // At the maximum, and without iat within it (plus leeway for the issuer's clock), it is accepted.
    await validateJwtSvid(await ourToken({ iat: NOW_S, exp: NOW_S + 300 }), { audience: AUD, bundles, clock: new ManualClock(T0), maxLifetimeSeconds: 300 });
    await validateJwtSvid(await ourToken({ iat: undefined, exp: NOW_S + 320 }), { audience: AUD, bundles, clock: new ManualClock(T0), maxLifetimeSeconds: 300 });
    await assert.rejects(validateJwtSvid(await ourToken(), { audience: AUD, bundles, clock: new ManualClock(T0), maxLifetimeSeconds: 0 }), TypeError);
  });

  test("item 82: aud missing or without our audience is refused; an empty expected audience is a TypeError", async () => {
    await refused(await ourToken({ aud: undefined }), "no aud claim");
    await refused(await ourToken({ aud: "spiffe://strait.local/ns/other/sa/x" }), `aud does not include "${AUD}"`);
    await refused(await ourToken({ aud: [] }), `aud does not include "${AUD}"`);
    await refused(await ourToken({ aud: [`${AUD}/`, AUD.toUpperCase()] }), `aud does not include "${AUD}"`);
    await assert.rejects(validateJwtSvid(await ourToken(), { audience: "", bundles, clock: new ManualClock(T0) }), TypeError);
    await assert.rejects(validateJwtSvid(await ourToken(), { audience: AUD, bundles, clock: new ManualClock(T0), leewaySeconds: -1 }), TypeError);
  });

  test("item 84: nbf or iat in the future (past the leeway) is refused", async () => {
    await refused(await ourToken({ nbf: NOW_S + 31 }), "not yet valid (nbf)");
    await refused(await ourToken({ iat: NOW_S + 120 }), "iat is in the future");
  });
});

describe("JWT-SVIDs and bundles in real workerd (no nodejs_compat)", () => {
  test("workerd mints a token Node validates, validates a Node-minted token, refuses a forged one, and builds the same bundle", async () => {
    const caFile = join(dir, "ca.pem");
    await run("openssl", [
      "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", join(dir, "ca.key"), "-out", caFile,
      "-days", "2", "-subj", "/O=SPIFFE/CN=workerd-test", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    const caPem = await readFile(caFile, "utf8");
    const src = (p: string) => JSON.stringify(join(projectRoot, p));
    const worker = await startModuleWorker(`
      import { ManualClock } from ${src("src/core/clock.ts")};
      import { buildSpiffeBundle, parseSpiffeBundle, trustBundleSet } from ${src("src/identity/bundle.ts")};
      import { importJwtSigningKey } from ${src("src/identity/jwt-key.ts")};
      import { mintJwtSvid, validateJwtSvid } from ${src("src/identity/jwt-svid.ts")};
      import { SpiffeId } from ${src("src/identity/spiffe-id.ts")};
      const KEY_PEM = ${JSON.stringify(opensslKeyPem)};
      const CA_PEM = ${JSON.stringify(caPem)};
      const clock = new ManualClock(${T0});
      export default {
        async fetch(request) {
          const url = new URL(request.url);
          const key = await importJwtSigningKey(KEY_PEM);
          const doc = buildSpiffeBundle({ x509AuthoritiesPem: [CA_PEM], jwtAuthorities: [{ kid: key.kid, publicJwk: key.publicJwk }], sequence: 3, refreshHintSeconds: 300 });
          if (url.pathname === "/bundle") return Response.json(doc);
          if (url.pathname === "/mint") {
            const { token } = await mintJwtSvid({ spiffeId: SpiffeId.parse(url.searchParams.get("sub")), audience: [url.searchParams.get("aud")], key, clock, ttlSeconds: 300 });
            return Response.json({ token });
          }
          const bundles = trustBundleSet([parseSpiffeBundle("strait.local", doc)]);
          try {
            const v = await validateJwtSvid(url.searchParams.get("token") ?? "", { audience: url.searchParams.get("aud"), bundles, clock });
            return Response.json({ sub: v.spiffeId.toString(), aud: v.audience, x509Roots: bundles.get("strait.local").x509AuthoritiesDer.length });
          } catch (e) {
            return Response.json({ code: e.code, name: e.name, message: e.message }, { status: 401 });
          }
        },
      };`);
    try {
      const minted = (await (await worker.fetch(`/mint?sub=${encodeURIComponent(SUB.toString())}&aud=${encodeURIComponent(AUD)}`)).json()) as { token: string };
      assert.deepEqual(decodeProtectedHeader(minted.token), { alg: "ES256", kid: key.kid, typ: "JWT" });
      const inNode = await validateJwtSvid(minted.token, { audience: AUD, bundles, clock: new ManualClock(T0) });
      assert.ok(inNode.spiffeId.equals(SUB));

      const { token } = await mintJwtSvid({ spiffeId: SUB, audience: [AUD], key, clock: new ManualClock(T0), ttlSeconds: 300 });
      const ok = await worker.fetch(`/validate?token=${token}&aud=${encodeURIComponent(AUD)}`);
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { sub: SUB.toString(), aud: [AUD], x509Roots: 1 });

      const forged = await signWith((await generateKeyPair("ES256")).privateKey, { alg: "ES256", kid: key.kid, typ: "JWT" }, claims());
      const bad = await worker.fetch(`/validate?token=${forged}&aud=${encodeURIComponent(AUD)}`);
      assert.equal(bad.status, 401);
      assert.deepEqual(await bad.json(), { code: "ERR_JWT_SVID_INVALID", name: "JwtSvidError", message: "token signature verification failed" });

      const wrongAud = await worker.fetch(`/validate?token=${token}&aud=other`);
      assert.equal(((await wrongAud.json()) as { message: string }).message, 'token aud does not include "other"');

      const doc = await (await worker.fetch("/bundle")).json();
      assert.deepEqual(doc, buildSpiffeBundle({ x509AuthoritiesPem: [caPem], jwtAuthorities: [{ kid: key.kid, publicJwk: key.publicJwk }], sequence: 3, refreshHintSeconds: 300 }));
    } finally {
      await worker.dispose();
    }
  });
});

describe("validateJwtSvid: jose's key resolver keeps the checks' order (items 63, 74-79)", () => {
  const enc = (o: unknown): string => base64url.encode(JSON.stringify(o));
  /** A token jose itself refuses before asking for a key: an unknown critical header parameter. */
  function withUnknownCrit(header: Record<string, unknown>, payload: JWTPayload): string {
    return `${enc({ ...header, crit: ["x-strait"], "x-strait": true })}.${enc(payload)}.c2ln`;
  }

  test("when jose refuses first (unknown crit), the rule our checks name first is reported, as before", async () => {
    const recorder = new LookupRecorder(bundles);
    await refused(withUnknownCrit({ alg: "none", kid: key.kid }, claims()), '"none"', { bundles: recorder });
    await refused(withUnknownCrit({ alg: "HS256", kid: key.kid, typ: "JWT" }, claims()), '"HS256"', { bundles: recorder });
    await refused(withUnknownCrit({ alg: "ES256", kid: key.kid, typ: "at+jwt" }, claims()), 'typ "at+jwt"', { bundles: recorder });
    await refused(withUnknownCrit({ alg: "ES256", typ: "JWT" }, claims()), "missing key id", { bundles: recorder });
    await refused(withUnknownCrit({ alg: "ES256", kid: key.kid, typ: "JWT" }, claims({ sub: "frontend" })), "sub is not a valid SPIFFE ID", { bundles: recorder });
    await refused(withUnknownCrit({ alg: "ES256", kid: key.kid, typ: "JWT" }, claims({ aud: undefined })), "no aud claim", { bundles: recorder });
    assert.equal(recorder.lookups, 0, "no bundle was consulted");
    await refused(withUnknownCrit({ alg: "ES256", kid: key.kid, typ: "JWT" }, claims({ sub: "spiffe://evil.org/ns/web/sa/x" })), "no trust bundle for trust domain evil.org");
    await refused(withUnknownCrit({ alg: "ES256", kid: "not-our-kid", typ: "JWT" }, claims()), 'kid "not-our-kid" is not in the bundle');
    // Every pre-crypto check passes: jose's own refusal is the answer.
    await refused(withUnknownCrit({ alg: "ES256", kid: key.kid, typ: "JWT" }, claims()), '"x-strait" is not recognized');
  });

  test("a bundle key that cannot be imported is refused each time, and is not cached as usable", async () => {
    const broken: JsonWebKey = { kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA" };
    const set: TrustBundleSet = new Map([[TD, { trustDomain: TD, x509AuthoritiesDer: [], jwtAuthorities: new Map([["broken", broken], [key.kid, key.publicJwk]]) }]]);
    const token = await signWith(key.privateKey, { alg: "ES256", kid: "broken", typ: "JWT" }, claims());
    await refused(token, 'bundle key "broken" cannot be used with ES256', { bundles: set });
    await refused(token, 'bundle key "broken" cannot be used with ES256', { bundles: set });
    // An unknown crit over a broken key: the key is reported first, as when it was imported before jose ran.
    await refused(withUnknownCrit({ alg: "ES256", kid: "broken", typ: "JWT" }, claims()), "cannot be used with ES256", { bundles: set });
    const ok = await validateJwtSvid(await ourToken(), { audience: AUD, bundles: set, clock: new ManualClock(T0) });
    assert.ok(ok.spiffeId.equals(SUB));
  });

  test("concurrent validations against a bundle key not imported yet all succeed, and a forged one among them fails", async () => {
    // A fresh bundle (fresh JWK objects), so its key is imported while these are in flight.
    const set = trustBundleSet([bundleFor(TD, [{ kid: key.kid, publicJwk: { ...key.publicJwk } }])]);
    const good = await ourToken();
    const forged = await signWith((await generateKeyPair("ES256")).privateKey, { alg: "ES256", kid: key.kid, typ: "JWT" }, claims());
    const results = await Promise.allSettled([good, good, forged, good, good].map((t) => validateJwtSvid(t, { audience: AUD, bundles: set, clock: new ManualClock(T0) })));
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
    const failed = results[2] as PromiseRejectedResult;
    assert.ok(failed.reason instanceof JwtSvidError && /signature verification failed/.test(failed.reason.message));
  });
});
