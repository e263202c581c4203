import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { buildSpiffeBundle, bundlePem, parseSpiffeBundle, trustBundleSet, type TrustBundle } from "../../src/identity/bundle.ts";
import { BundleError, InvalidSpiffeIdError, PemError } from "../../src/identity/errors.ts";
import { generateJwtSigningKeyPem, importJwtSigningKey, type JwtSigningKey } from "../../src/identity/jwt-key.ts";

const run = promisify(execFile);

interface OpensslCa {
  pem: string;
  der: Buffer;
  /** SubjectPublicKeyInfo DER as openssl prints it. */
  spki: Buffer;
}

let dir: string;
let ecRoot: OpensslCa;
let p384Root: OpensslCa;
let rsaRoot: OpensslCa;
let jwtKey: JwtSigningKey;

/** A self-signed CA made by the openssl CLI, independent of our own code. */
async function opensslCa(name: string, keyArgs: string[]): Promise<OpensslCa> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  await run("openssl", [
    "req", "-x509", "-nodes", ...keyArgs, "-keyout", key, "-out", cert, "-days", "2",
    "-subj", `/O=SPIFFE/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-addext", "subjectAltName=URI:spiffe://strait.local",
  ]);
  await run("openssl", ["x509", "-in", cert, "-outform", "DER", "-out", `${cert}.der`]);
  await run("openssl", ["x509", "-in", cert, "-noout", "-pubkey", "-out", `${cert}.pub`]);
  await run("openssl", ["pkey", "-pubin", "-in", `${cert}.pub`, "-outform", "DER", "-out", `${cert}.pub.der`]);
  return { pem: await readFile(cert, "utf8"), der: await readFile(`${cert}.der`), spki: await readFile(`${cert}.pub.der`) };
}

/** SPKI DER of a public JWK, via WebCrypto: proves kty/crv/x/y (or n/e) are the certificate's key. */
async function spkiOfJwk(jwk: Record<string, unknown>): Promise<Buffer> {
  const alg = jwk.kty === "EC" ? { name: "ECDSA", namedCurve: jwk.crv as string } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  // WebCrypto only knows use "sig"/"enc", so pass the key members alone.
  const { use: _use, x5c: _x5c, ...members } = jwk;
  const key = await crypto.subtle.importKey("jwk", members as JsonWebKey, alg, true, ["verify"]);
  return Buffer.from(await crypto.subtle.exportKey("spki", key));
}

function bundleError(field: string | undefined, fragment: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof BundleError, `expected BundleError, got ${String(err)}`);
    assert.equal(err.code, "ERR_BUNDLE_INVALID");
    assert.equal(err.field, field);
    assert.ok(err.message.includes(fragment), `${err.message} should include ${fragment}`);
    return true;
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "strait-bundle-"));
  [ecRoot, p384Root, rsaRoot, jwtKey] = await Promise.all([
    opensslCa("ec-root", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
    opensslCa("p384-root", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]),
    opensslCa("rsa-root", ["-newkey", "rsa:2048"]),
    generateJwtSigningKeyPem().then(importJwtSigningKey),
  ]);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function ourBundle() {
  return buildSpiffeBundle({
    x509AuthoritiesPem: [ecRoot.pem, rsaRoot.pem],
    jwtAuthorities: [{ kid: jwtKey.kid, publicJwk: jwtKey.publicJwk }],
    sequence: 7,
    refreshHintSeconds: 300,
  });
}

describe("buildSpiffeBundle (issuer, items 44, 86-88, 92, 94)", () => {
  test("items 87, 88: spiffe_sequence and spiffe_refresh_hint are integers; keys holds every authority", () => {
    const doc = ourBundle();
    assert.equal(doc.spiffe_sequence, 7);
    assert.equal(doc.spiffe_refresh_hint, 300);
    assert.equal(doc.keys.length, 3);
    assert.deepEqual(Object.keys(doc).sort(), ["keys", "spiffe_refresh_hint", "spiffe_sequence"]);
    // The document survives a JSON round trip unchanged (it is what the bundle endpoint serves).
    assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);
  });

  test("items 44, 92: one x509-svid JWK per CA, x5c = [standard base64 DER], no kid, key members match the certificate", async () => {
    const [ec, rsa] = ourBundle().keys;
    assert.ok(ec && rsa);
    assert.equal(ec.use, "x509-svid");
    assert.equal(ec.kty, "EC");
    assert.equal(ec.crv, "P-256");
    assert.equal("kid" in ec, false);
    assert.deepEqual(ec.x5c, [ecRoot.der.toString("base64")]);
    assert.deepEqual(await spkiOfJwk(ec), ecRoot.spki);

    assert.equal(rsa.use, "x509-svid");
    assert.equal(rsa.kty, "RSA");
    assert.equal("kid" in rsa, false);
    assert.deepEqual(rsa.x5c, [rsaRoot.der.toString("base64")]);
    assert.deepEqual(await spkiOfJwk(rsa), rsaRoot.spki);
  });

  test("item 92: x5c is standard base64, not base64url", () => {
    const all = buildSpiffeBundle({ x509AuthoritiesPem: [ecRoot.pem, p384Root.pem, rsaRoot.pem], jwtAuthorities: [], sequence: 1, refreshHintSeconds: 60 });
    for (const k of all.keys) {
      const [b64] = k.x5c as string[];
      assert.match(b64 ?? "", /^[A-Za-z0-9+/]+=*$/);
    }
  });

  test("P-384 CA keys carry crv P-384 and the certificate's point", async () => {
    const [k] = buildSpiffeBundle({ x509AuthoritiesPem: [p384Root.pem], jwtAuthorities: [], sequence: 1, refreshHintSeconds: 60 }).keys;
    assert.ok(k);
    assert.equal(k.crv, "P-384");
    assert.deepEqual(await spkiOfJwk(k), p384Root.spki);
  });

  test("item 44: a PEM text holding two certificates yields two JWKs", () => {
    const doc = buildSpiffeBundle({ x509AuthoritiesPem: [ecRoot.pem + rsaRoot.pem], jwtAuthorities: [], sequence: 1, refreshHintSeconds: 60 });
    assert.deepEqual(doc.keys.map((k) => k.x5c), [[ecRoot.der.toString("base64")], [rsaRoot.der.toString("base64")]]);
  });

  test("item 94: jwt-svid JWKs carry kid and use, public members only", () => {
    const jwt = ourBundle().keys[2];
    assert.deepEqual(jwt, { ...jwtKey.publicJwk, kid: jwtKey.kid, use: "jwt-svid" });
    assert.equal("d" in (jwt ?? {}), false);
  });

  test("refuses non-certificate PEM and caller misuse", async () => {
    const keyPem = await readFile(join(dir, "ec-root.key"), "utf8");
    assert.throws(
      () => buildSpiffeBundle({ x509AuthoritiesPem: [keyPem], jwtAuthorities: [], sequence: 1, refreshHintSeconds: 60 }),
      (err: unknown) => err instanceof PemError && err.field === "x509AuthoritiesPem[0]",
    );
    assert.throws(
      () => buildSpiffeBundle({ x509AuthoritiesPem: [ecRoot.pem, "not pem"], jwtAuthorities: [], sequence: 1, refreshHintSeconds: 60 }),
      (err: unknown) => err instanceof PemError && err.field === "x509AuthoritiesPem[1]",
    );
    for (const [sequence, refreshHintSeconds] of [[-1, 60], [1.5, 60], [1, 0], [1, 2.5]] as const) {
      assert.throws(() => buildSpiffeBundle({ x509AuthoritiesPem: [], jwtAuthorities: [], sequence, refreshHintSeconds }), TypeError);
    }
    assert.throws(
      () => buildSpiffeBundle({ x509AuthoritiesPem: [], jwtAuthorities: [{ kid: "", publicJwk: jwtKey.publicJwk }], sequence: 1, refreshHintSeconds: 60 }),
      /kid is required/,
    );
    assert.throws(
      () =>
        buildSpiffeBundle({
          x509AuthoritiesPem: [],
          jwtAuthorities: [{ kid: "a", publicJwk: { ...jwtKey.publicJwk, d: "secret" } }],
          sequence: 1,
          refreshHintSeconds: 60,
        }),
      /private key material/,
    );
  });
});

describe("parseSpiffeBundle (verifier, items 86-96)", () => {
  test("round trip: the parsed bundle holds the CA DERs and the JWT key by kid, split by use (item 95)", () => {
    const b = parseSpiffeBundle("strait.local", JSON.parse(JSON.stringify(ourBundle())));
    assert.equal(b.trustDomain, "strait.local");
    assert.equal(b.sequence, 7);
    assert.equal(b.refreshHintSeconds, 300);
    assert.deepEqual(b.x509AuthoritiesDer.map((d) => Buffer.from(d)), [ecRoot.der, rsaRoot.der]);
    assert.deepEqual([...b.jwtAuthorities.keys()], [jwtKey.kid]);
    assert.deepEqual(b.jwtAuthorities.get(jwtKey.kid), jwtKey.publicJwk);
  });

  test("item 86: keys is required; keys: [] is a valid bundle (item 96: supports no SVID type)", () => {
    assert.throws(() => parseSpiffeBundle("td", { spiffe_sequence: 1 }), bundleError("keys", "keys is required"));
    assert.throws(() => parseSpiffeBundle("td", { keys: {} }), bundleError("keys", "keys must be an array"));
    assert.throws(() => parseSpiffeBundle("td", []), bundleError(undefined, "JSON object"));
    assert.throws(() => parseSpiffeBundle("td", "{}"), bundleError(undefined, "JSON object"));
    const empty = parseSpiffeBundle("td", { keys: [] });
    assert.equal(empty.x509AuthoritiesDer.length, 0);
    assert.equal(empty.jwtAuthorities.size, 0);
  });

  test("item 89: unknown top-level parameters are not required and are ignored", () => {
    const b = parseSpiffeBundle("td", { keys: [], something_new: { x: 1 } });
    assert.equal(b.sequence, undefined);
    assert.equal(b.refreshHintSeconds, undefined);
  });

  test("items 87, 88: malformed spiffe_sequence or spiffe_refresh_hint names the field", () => {
    assert.throws(() => parseSpiffeBundle("td", { keys: [], spiffe_sequence: "1" }), bundleError("spiffe_sequence", "integer"));
    assert.throws(() => parseSpiffeBundle("td", { keys: [], spiffe_sequence: 1.5 }), bundleError("spiffe_sequence", "integer"));
    assert.throws(() => parseSpiffeBundle("td", { keys: [], spiffe_refresh_hint: 0 }), bundleError("spiffe_refresh_hint", "integer"));
    assert.equal(parseSpiffeBundle("td", JSON.parse('{"keys": [], "spiffe_sequence": 9007199254740993}')).sequence, 2 ** 53, "64-bit sequences parse");
  });

  test("item 90: JWKs with an unknown or missing kty are ignored", () => {
    const jwt = { ...jwtKey.publicJwk, kid: "k1", use: "jwt-svid" };
    const b = parseSpiffeBundle("td", {
      keys: [{ kty: "OKP", crv: "Ed25519", x: "AA", kid: "ed", use: "jwt-svid" }, { kty: "oct", k: "AA", kid: "hs", use: "jwt-svid" }, { use: "jwt-svid", kid: "nokty" }, jwt],
    });
    assert.deepEqual([...b.jwtAuthorities.keys()], ["k1"]);
  });

  test("item 91: JWKs with a missing or unknown use are ignored; use is case-sensitive; wit-svid is not ours", () => {
    const ec = ourBundle().keys[0] ?? {};
    const jwt = { ...jwtKey.publicJwk, kid: "k1" };
    const b = parseSpiffeBundle("td", {
      keys: [
        { ...ec, use: undefined },
        { ...ec, use: "X509-SVID" },
        { ...ec, use: "sig" },
        { ...jwt, use: "JWT-SVID" },
        { ...jwt, use: "wit-svid" },
        { ...jwt },
      ],
    });
    assert.equal(b.x509AuthoritiesDer.length, 0);
    assert.equal(b.jwtAuthorities.size, 0);
  });

  test("item 93: x509-svid with missing or empty x5c is ignored; several x5c entries use the first only (AMBIG decision)", () => {
    const [ec, rsa] = ourBundle().keys;
    assert.ok(ec && rsa);
    const b = parseSpiffeBundle("td", {
      keys: [
        { ...ec, x5c: undefined },
        { ...ec, x5c: [] },
        { ...rsa, x5c: [rsaRoot.der.toString("base64"), ecRoot.der.toString("base64")] },
      ],
    });
    assert.deepEqual(b.x509AuthoritiesDer.map((d) => Buffer.from(d)), [rsaRoot.der]);
  });

  test("item 92: an x5c entry that is base64url or not a certificate fails the bundle, naming the field", () => {
    const ec = ourBundle().keys[0] ?? {};
    const urlSafe = ecRoot.der.toString("base64url");
    assert.notEqual(urlSafe, ecRoot.der.toString("base64"));
    assert.throws(() => parseSpiffeBundle("td", { keys: [{ ...ec, x5c: [urlSafe] }] }), bundleError("keys[0].x5c[0]", "standard base64"));
    assert.throws(
      () => parseSpiffeBundle("td", { keys: [{ kty: "EC", use: "x509-svid", x5c: [Buffer.from("not a cert").toString("base64")] }] }),
      bundleError("keys[0].x5c[0]", "not a DER X.509 certificate"),
    );
    assert.throws(() => parseSpiffeBundle("td", { keys: [{ ...ec, x5c: [42] }] }), bundleError("keys[0].x5c[0]", "standard base64"));
  });

  test("item 94: a jwt-svid JWK without kid fails the whole bundle", () => {
    const ec = ourBundle().keys[0] ?? {};
    assert.throws(
      () => parseSpiffeBundle("td", { keys: [ec, { ...jwtKey.publicJwk, use: "jwt-svid" }] }),
      bundleError("keys[1].kid", "must have a kid"),
    );
    assert.throws(
      () => parseSpiffeBundle("td", { keys: [{ ...jwtKey.publicJwk, use: "jwt-svid", kid: "" }] }),
      bundleError("keys[0].kid", "must have a kid"),
    );
  });

  test("jwt-svid keys: duplicate kid, private members, bad curve and missing members are refused", () => {
    const jwt = { ...jwtKey.publicJwk, kid: "k1", use: "jwt-svid" };
    assert.throws(() => parseSpiffeBundle("td", { keys: [jwt, jwt] }), bundleError("keys[1].kid", "duplicate kid"));
    assert.throws(() => parseSpiffeBundle("td", { keys: [{ ...jwt, d: "AAAA" }] }), bundleError("keys[0]", "private member"));
    assert.throws(() => parseSpiffeBundle("td", { keys: [{ ...jwt, crv: "secp256k1" }] }), bundleError("keys[0].crv", "P-256"));
    assert.throws(() => parseSpiffeBundle("td", { keys: [{ ...jwt, y: undefined }] }), bundleError("keys[0].y", "required"));
    assert.throws(() => parseSpiffeBundle("td", { keys: [{ kty: "RSA", kid: "r", use: "jwt-svid", e: "AQAB" }] }), bundleError("keys[0].n", "required"));
    assert.throws(() => parseSpiffeBundle("td", { keys: ["x"] }), bundleError("keys[0]", "JSON object"));
  });

  test("the trust domain name is validated", () => {
    assert.throws(() => parseSpiffeBundle("Strait.Local", { keys: [] }), InvalidSpiffeIdError);
  });
});

describe("bundle sets and PEM", () => {
  test("item 99: a bundle set refuses two bundles for one trust domain and keys them by name", () => {
    const a = parseSpiffeBundle("a.org", { keys: [] });
    const b = parseSpiffeBundle("b.org", { keys: [] });
    const set = trustBundleSet([a, b]);
    assert.equal(set.get("a.org"), a);
    assert.equal(set.get("b.org"), b);
    assert.throws(() => trustBundleSet([a, parseSpiffeBundle("a.org", { keys: [] })]), /duplicate bundle/);
  });

  test("bundlePem concatenates the CAs, and openssl reads every certificate back", async () => {
    const pem = bundlePem([ecRoot.pem, rsaRoot.pem + p384Root.pem]);
    assert.equal(pem.match(/-----BEGIN CERTIFICATE-----/g)?.length, 3);
    const file = join(dir, "bundle.pem");
    await writeFile(file, pem);
    const { stdout } = await run("openssl", ["crl2pkcs7", "-nocrl", "-certfile", file]);
    const { stdout: printed } = await run("sh", ["-c", `openssl crl2pkcs7 -nocrl -certfile ${file} | openssl pkcs7 -print_certs -noout`]);
    assert.ok(stdout.includes("BEGIN PKCS7"));
    assert.deepEqual(printed.match(/subject=.*$/gm), ["subject=O = SPIFFE, CN = ec-root", "subject=O = SPIFFE, CN = rsa-root", "subject=O = SPIFFE, CN = p384-root"]);
    assert.throws(() => bundlePem(["garbage"]), PemError);
  });

  test("a parsed bundle's authorities are the exact DER openssl wrote", () => {
    const b: TrustBundle = parseSpiffeBundle(
      "strait.local",
      buildSpiffeBundle({ x509AuthoritiesPem: [p384Root.pem], jwtAuthorities: [], sequence: 2, refreshHintSeconds: 60 }),
    );
    assert.deepEqual(Buffer.from(b.x509AuthoritiesDer[0] ?? []), p384Root.der);
  });
});
