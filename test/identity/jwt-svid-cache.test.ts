import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { ManualClock } from "../../src/core/clock.ts";
import { buildSpiffeBundle, parseSpiffeBundle, trustBundleSet, type TrustBundleSet } from "../../src/identity/bundle.ts";
import { JwtSvidError } from "../../src/identity/errors.ts";
import { generateJwtSigningKeyPem, importJwtSigningKey, type JwtSigningKey } from "../../src/identity/jwt-key.ts";
import { mintJwtSvid, validateJwtSvid } from "../../src/identity/jwt-svid.ts";
import { JwtSvidCache, MAX_CACHED_JWT_SVID_BYTES } from "../../src/identity/jwt-svid-cache.ts";
import { workloadId } from "../../src/identity/spiffe-id.ts";

const TD = "strait.local";
// A fixed clock: every token is minted and checked against it, never today's date.
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const AUD = "spiffe://strait.local/node/c1/n1";
const SUB = workloadId(TD, "web", "frontend");

let key: JwtSigningKey;
let other: JwtSigningKey;
let bundles: TrustBundleSet;

function setWith(...keys: JwtSigningKey[]): TrustBundleSet {
  const doc = buildSpiffeBundle({ x509AuthoritiesPem: [], jwtAuthorities: keys.map((k) => ({ kid: k.kid, publicJwk: k.publicJwk })), sequence: 1, refreshHintSeconds: 300 });
  return trustBundleSet([parseSpiffeBundle(TD, doc)]);
}

async function token(clock: ManualClock, ttlSeconds = 300, audience = AUD): Promise<string> {
  return (await mintJwtSvid({ spiffeId: SUB, audience: [audience], key, clock, ttlSeconds })).token;
}

/** Counts the signature checks WebCrypto performs (jose verifies through `crypto.subtle.verify`). */
const subtle = crypto.subtle;
const realVerify = subtle.verify.bind(subtle);
let verifies = 0;

before(async () => {
  key = await importJwtSigningKey(await generateJwtSigningKeyPem());
  other = await importJwtSigningKey(await generateJwtSigningKeyPem());
  bundles = setWith(key, other);
  subtle.verify = ((...args: Parameters<SubtleCrypto["verify"]>) => {
    verifies++;
    return realVerify(...args);
  }) as SubtleCrypto["verify"];
});

after(() => {
  subtle.verify = realVerify;
});

function expired(err: unknown): boolean {
  assert.ok(err instanceof JwtSvidError, String(err));
  assert.equal(err.code, "ERR_JWT_SVID_INVALID");
  assert.match(err.message, /token has expired \(exp\)/);
  return true;
}

describe("JwtSvidCache: verified JWT-SVIDs remembered until they expire", () => {
  test("a token seen again is answered without a second signature check, with the same (frozen) result", async () => {
    const clock = new ManualClock(T0);
    const cache = new JwtSvidCache();
    const t = await token(clock);
    const before = verifies;
    const first = await cache.validate(t, { audience: AUD, bundles, clock });
    assert.equal(verifies - before, 1);
    clock.advance(60_000);
    const second = await cache.validate(t, { audience: AUD, bundles, clock });
    assert.equal(verifies - before, 1, "no second verify");
    assert.equal(second, first);
    assert.equal(second.spiffeId.toString(), SUB.toString());
    assert.deepEqual(second.audience, [AUD]);
    assert.ok(Object.isFrozen(second) && Object.isFrozen(second.audience) && Object.isFrozen(second.claims));
    assert.deepEqual(second, await validateJwtSvid(t, { audience: AUD, bundles, clock }), "the same answer as a full validation");
  });

  test("a remembered token is refused once it expires (same leeway and message as a full validation), and forgotten", async () => {
    const clock = new ManualClock(T0);
    const cache = new JwtSvidCache();
    const t = await token(clock, 60);
    await cache.validate(t, { audience: AUD, bundles, clock });
    // exp = T0 + 60 s; the default leeway is 30 s: still valid at +89 s, refused at +90 s.
    clock.set(T0 + 89_000);
    await cache.validate(t, { audience: AUD, bundles, clock });
    clock.set(T0 + 90_000);
    await assert.rejects(cache.validate(t, { audience: AUD, bundles, clock }), expired);
    await assert.rejects(validateJwtSvid(t, { audience: AUD, bundles, clock }), expired);
    assert.equal(cache.size, 0);
    // With no leeway the same token is already refused from memory at exp.
    const strict = new JwtSvidCache();
    clock.set(T0);
    await strict.validate(t, { audience: AUD, bundles, clock, leewaySeconds: 0 });
    clock.set(T0 + 60_000);
    await assert.rejects(strict.validate(t, { audience: AUD, bundles, clock, leewaySeconds: 0 }), expired);
  });

  test("another audience, leeway or lifetime bound validates in full (and the audience is refused)", async () => {
    const clock = new ManualClock(T0);
    const cache = new JwtSvidCache();
    const t = await token(clock);
    await cache.validate(t, { audience: AUD, bundles, clock });
    const before = verifies;
    await assert.rejects(cache.validate(t, { audience: "spiffe://strait.local/node/c1/n2", bundles, clock }), (err: unknown) => err instanceof JwtSvidError && /aud does not include/.test(err.message));
    assert.equal(verifies - before, 1);
    await cache.validate(t, { audience: AUD, bundles, clock, leewaySeconds: 5 });
    assert.equal(verifies - before, 2);
    await assert.rejects(cache.validate(t, { audience: AUD, bundles, clock, maxLifetimeSeconds: 60 }), (err: unknown) => err instanceof JwtSvidError && /exceeds the maximum/.test(err.message));
    assert.equal(verifies - before, 3);
  });

  test("a new bundle set (the signing key removed) is never answered from memory", async () => {
    const clock = new ManualClock(T0);
    const cache = new JwtSvidCache();
    const t = await token(clock);
    await cache.validate(t, { audience: AUD, bundles, clock });
    const withoutKey = setWith(other);
    await assert.rejects(cache.validate(t, { audience: AUD, bundles: withoutKey, clock }), (err: unknown) => err instanceof JwtSvidError && /is not in the bundle/.test(err.message));
    // The same keys in a new set object: validated in full once, then remembered for that set.
    const rebuilt = setWith(key, other);
    const before = verifies;
    await cache.validate(t, { audience: AUD, bundles: rebuilt, clock });
    await cache.validate(t, { audience: AUD, bundles: rebuilt, clock });
    assert.equal(verifies - before, 1);
  });

  test("failures are never remembered: a bad signature is checked (and refused) every time", async () => {
    const clock = new ManualClock(T0);
    const cache = new JwtSvidCache();
    const good = await token(clock);
    const [h, p, s] = good.split(".") as [string, string, string];
    const forged = `${h}.${p}.${s.slice(0, -4)}${s.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    const before = verifies;
    for (let i = 0; i < 3; i++) {
      await assert.rejects(cache.validate(forged, { audience: AUD, bundles, clock }), (err: unknown) => err instanceof JwtSvidError && /signature verification failed/.test(err.message));
    }
    assert.equal(verifies - before, 3);
    assert.equal(cache.size, 0);
  });

  test("bounded: the least recently used token goes first, expired ones before it; long tokens are not kept", async () => {
    const clock = new ManualClock(T0);
    const cache = new JwtSvidCache({ maxEntries: 2 });
    const [a, b, c] = [await token(clock, 300, AUD), await token(clock, 300, `${AUD}-b`), await token(clock, 300, `${AUD}-c`)];
    await cache.validate(a, { audience: AUD, bundles, clock });
    await cache.validate(b, { audience: `${AUD}-b`, bundles, clock });
    await cache.validate(a, { audience: AUD, bundles, clock }); // a is now the most recently used
    await cache.validate(c, { audience: `${AUD}-c`, bundles, clock }); // b goes
    assert.equal(cache.size, 2);
    const before = verifies;
    await cache.validate(a, { audience: AUD, bundles, clock });
    assert.equal(verifies - before, 0, "a was kept");
    await cache.validate(b, { audience: `${AUD}-b`, bundles, clock });
    assert.equal(verifies - before, 1, "b was evicted");

    // An expired entry is dropped before a live one.
    const short = new JwtSvidCache({ maxEntries: 2 });
    const brief = await token(clock, 10);
    await short.validate(brief, { audience: AUD, bundles, clock });
    await short.validate(b, { audience: `${AUD}-b`, bundles, clock });
    clock.advance(60_000);
    await short.validate(c, { audience: `${AUD}-c`, bundles, clock });
    const mark = verifies;
    await short.validate(b, { audience: `${AUD}-b`, bundles, clock });
    assert.equal(verifies - mark, 0, "b (live) was kept, the expired token went");

    const long = await new SignJWT({ aud: AUD, pad: "x".repeat(MAX_CACHED_JWT_SVID_BYTES) })
      .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "JWT" })
      .setSubject(SUB.toString())
      .setIssuedAt(Math.floor(clock.now() / 1000))
      .setExpirationTime(Math.floor(clock.now() / 1000) + 300)
      .sign(key.privateKey);
    const roomy = new JwtSvidCache();
    await roomy.validate(long, { audience: AUD, bundles, clock });
    assert.equal(roomy.size, 0);
  });

  test("maxEntries must be a positive integer", () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => new JwtSvidCache({ maxEntries: bad }), TypeError);
  });
});
