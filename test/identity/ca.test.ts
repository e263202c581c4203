// Root and intermediate CA profile, checked with the real openssl CLI (checklist section C).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ManualClock, systemClock } from "../../src/core/clock.ts";
import {
  createIntermediateCa,
  createRootCa,
  loadSigningCa,
  verifyIssuedBy,
  type CaKeyPair,
} from "../../src/identity/ca.ts";
import { CaUnavailableError, InvalidSpiffeIdError, PemError } from "../../src/identity/errors.ts";
import { StraitError } from "../../src/core/errors.ts";
import { x509 } from "../../src/identity/x509.ts";
import { extension, openssl, writeInDir } from "../support/openssl-cli.ts";

const run = promisify(execFile);
const TD = "strait.local";
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const DAY = 86_400_000;

let dir: string;
let root: CaKeyPair;
let intermediate: CaKeyPair;
const clock = new ManualClock(T0);

const file = (name: string, text: string): Promise<string> => writeInDir(dir, name, text);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "strait-ca-"));
  root = await createRootCa({ trustDomain: TD, clock });
  intermediate = await createIntermediateCa(root, { trustDomain: TD, clock });
});
after(() => rm(dir, { recursive: true, force: true }));

describe("root CA", () => {
  test("items 37, 38, 39, 42: cA=true critical, KU keyCertSign+cRLSign critical without digitalSignature, no EKU", async () => {
    const text = await openssl("x509", "-in", await file("root.pem", root.certificatePem), "-text", "-noout");
    assert.deepEqual(extension(text, "X509v3 Basic Constraints"), { critical: true, value: "CA:TRUE" });
    assert.deepEqual(extension(text, "X509v3 Key Usage"), { critical: true, value: "Certificate Sign, CRL Sign" });
    assert.doesNotMatch(text, /Digital Signature/);
    assert.equal(extension(text, "X509v3 Extended Key Usage"), undefined);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /NIST CURVE: P-256/);
  });

  test("item 40: URI SAN is spiffe://<td> with no path; item 22: in its own trust domain", async () => {
    const text = await openssl("x509", "-in", await file("root.pem", root.certificatePem), "-text", "-noout");
    assert.equal(extension(text, "X509v3 Subject Alternative Name")?.value, `URI:spiffe://${TD}`);
  });

  test("item 44: non-empty Subject, self-signed (openssl verify against itself), SKI present, no AKI needed", async () => {
    const rootPath = await file("root.pem", root.certificatePem);
    const subject = (await openssl("x509", "-in", rootPath, "-noout", "-subject", "-nameopt", "RFC2253")).trim();
    assert.equal(subject, `subject=CN=Strait Root CA ${TD},O=Strait`);
    const issuer = (await openssl("x509", "-in", rootPath, "-noout", "-issuer", "-nameopt", "RFC2253")).trim();
    assert.equal(issuer, `issuer=CN=Strait Root CA ${TD},O=Strait`);
    assert.equal((await openssl("verify", "-CAfile", rootPath, rootPath)).trim(), `${rootPath}: OK`);
    assert.equal(await verifyIssuedBy(root.certificatePem, root.certificatePem), true);
    const text = await openssl("x509", "-in", rootPath, "-text", "-noout");
    assert.match(extension(text, "X509v3 Subject Key Identifier")?.value ?? "", /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
  });

  test("default lifetime is 10 years from the frozen clock, notBefore backdated 30 s", async () => {
    const ca = await loadSigningCa(root);
    assert.equal(ca.notAfter.getTime(), T0 + 3650 * DAY);
    assert.equal(ca.notBefore.getTime(), T0 - 30_000);
    const dates = await openssl("x509", "-in", await file("root.pem", root.certificatePem), "-noout", "-enddate");
    assert.equal(new Date(dates.trim().replace("notAfter=", "")).getTime(), T0 + 3650 * DAY);
  });

  test("the key is PKCS#8 ECDSA P-256 and matches the certificate", async () => {
    assert.match(root.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const keyPath = await file("root-key.pem", root.privateKeyPem);
    const keyText = await openssl("pkey", "-in", keyPath, "-noout", "-text");
    assert.match(keyText, /NIST CURVE: P-256/);
    const fromKey = await openssl("pkey", "-in", keyPath, "-pubout");
    const fromCert = await openssl("x509", "-in", await file("root.pem", root.certificatePem), "-noout", "-pubkey");
    assert.equal(fromKey, fromCert);
  });

  test("every root gets a fresh key and serial", async () => {
    const other = await createRootCa({ trustDomain: TD, clock });
    assert.notEqual(other.privateKeyPem, root.privateKeyPem);
    const a = await loadSigningCa(root);
    const b = await loadSigningCa(other);
    assert.notEqual(a.certificate.serialNumber, b.certificate.serialNumber);
  });

  test("a bad trust domain is refused with InvalidSpiffeIdError; a bad ttl is a TypeError", async () => {
    await assert.rejects(createRootCa({ trustDomain: "Strait.Local", clock }), InvalidSpiffeIdError);
    await assert.rejects(createRootCa({ trustDomain: "spiffe://strait.local", clock }), InvalidSpiffeIdError);
    await assert.rejects(createRootCa({ trustDomain: TD, clock, ttlSeconds: 0 }), TypeError);
    await assert.rejects(createRootCa({ trustDomain: TD, clock, ttlSeconds: 1.5 }), TypeError);
  });
});

test("item 41 (MAY, decided: not set): neither CA carries name constraints, so no verifier lacking support rejects the chain", async () => {
  for (const pem of [root.certificatePem, intermediate.certificatePem]) {
    const cert = new x509.X509Certificate(pem);
    assert.equal(cert.getExtension("2.5.29.30"), null);
    assert.ok(!(await openssl("x509", "-noout", "-text", "-in", await file("nc.pem", pem))).includes("Name Constraints"));
  }
});

describe("intermediate CA", () => {
  test("items 37, 38, 39, 40, 42: cA=true pathlen:0 critical, KU certSign+cRLSign critical, URI SAN without path, no EKU", async () => {
    const text = await openssl("x509", "-in", await file("int.pem", intermediate.certificatePem), "-text", "-noout");
    assert.deepEqual(extension(text, "X509v3 Basic Constraints"), { critical: true, value: "CA:TRUE, pathlen:0" });
    assert.deepEqual(extension(text, "X509v3 Key Usage"), { critical: true, value: "Certificate Sign, CRL Sign" });
    assert.doesNotMatch(text, /Digital Signature/);
    assert.equal(extension(text, "X509v3 Extended Key Usage"), undefined);
    assert.equal(extension(text, "X509v3 Subject Alternative Name")?.value, `URI:spiffe://${TD}`);
    const subject = (await openssl("x509", "-in", await file("int.pem", intermediate.certificatePem), "-noout", "-subject", "-nameopt", "RFC2253")).trim();
    assert.equal(subject, `subject=CN=Strait Intermediate CA ${TD},O=Strait`);
  });

  test("item 34: AKI equals the root's SKI; the intermediate has its own SKI", async () => {
    const rootText = await openssl("x509", "-in", await file("root.pem", root.certificatePem), "-text", "-noout");
    const intText = await openssl("x509", "-in", await file("int.pem", intermediate.certificatePem), "-text", "-noout");
    const rootSki = extension(rootText, "X509v3 Subject Key Identifier")?.value;
    const aki = extension(intText, "X509v3 Authority Key Identifier")?.value;
    const intSki = extension(intText, "X509v3 Subject Key Identifier")?.value;
    assert.ok(rootSki !== undefined && aki !== undefined && intSki !== undefined);
    assert.equal(aki.replace(/^keyid:/, ""), rootSki);
    assert.notEqual(intSki, rootSki);
  });

  test("chains to the root: openssl verify prints OK and verifyIssuedBy agrees", async () => {
    const rootPath = await file("root.pem", root.certificatePem);
    const intPath = await file("int.pem", intermediate.certificatePem);
    assert.equal((await openssl("verify", "-CAfile", rootPath, intPath)).trim(), `${intPath}: OK`);
    assert.equal(await verifyIssuedBy(intermediate.certificatePem, root.certificatePem), true);
    assert.equal(await verifyIssuedBy(root.certificatePem, intermediate.certificatePem), false);
    const stranger = await createRootCa({ trustDomain: TD, clock });
    assert.equal(await verifyIssuedBy(intermediate.certificatePem, stranger.certificatePem), false);
  });

  test("default lifetime is one year; never outlives the root (item 32 applied to CAs)", async () => {
    const ca = await loadSigningCa(intermediate);
    assert.equal(ca.notAfter.getTime(), T0 + 365 * DAY);
    const shortRoot = await createRootCa({ trustDomain: TD, clock, ttlSeconds: 7 * 86_400 });
    const capped = await loadSigningCa(await createIntermediateCa(shortRoot, { trustDomain: TD, clock }));
    assert.equal(capped.notAfter.getTime(), T0 + 7 * DAY);
    const custom = await loadSigningCa(await createIntermediateCa(root, { trustDomain: TD, clock, ttlSeconds: 3600 }));
    assert.equal(custom.notAfter.getTime(), T0 + 3600_000);
  });

  test("an expired root cannot sign an intermediate (CaUnavailableError)", async () => {
    const shortRoot = await createRootCa({ trustDomain: TD, clock, ttlSeconds: 60 });
    const later = new ManualClock(T0 + 61_000);
    await assert.rejects(createIntermediateCa(shortRoot, { trustDomain: TD, clock: later }), CaUnavailableError);
  });

  test("a root of another trust domain is caller misuse (TypeError)", async () => {
    const otherRoot = await createRootCa({ trustDomain: "other.example", clock });
    await assert.rejects(createIntermediateCa(otherRoot, { trustDomain: TD, clock }), TypeError);
  });
});

describe("loadSigningCa refusals", () => {
  test("a private key that does not match the certificate: CaUnavailableError", async () => {
    await assert.rejects(
      loadSigningCa({ certificatePem: root.certificatePem, privateKeyPem: intermediate.privateKeyPem }),
      (err: unknown) => err instanceof CaUnavailableError && /does not match/.test(err.message),
    );
  });

  test("malformed PEM, wrong labels and a non-P-256 key: PemError naming the field", async () => {
    await assert.rejects(loadSigningCa({ certificatePem: "not a pem", privateKeyPem: root.privateKeyPem }), (err: unknown) => err instanceof PemError && err.field === "certificatePem");
    await assert.rejects(loadSigningCa({ certificatePem: root.privateKeyPem, privateKeyPem: root.privateKeyPem }), (err: unknown) => err instanceof PemError && err.field === "certificatePem");
    await assert.rejects(loadSigningCa({ certificatePem: root.certificatePem, privateKeyPem: root.certificatePem }), (err: unknown) => err instanceof PemError && err.field === "privateKeyPem");
    await assert.rejects(
      loadSigningCa({ certificatePem: root.certificatePem + intermediate.certificatePem, privateKeyPem: root.privateKeyPem }),
      (err: unknown) => err instanceof PemError && /one PEM block/.test(err.message),
    );
    const p384 = await openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384");
    await assert.rejects(loadSigningCa({ certificatePem: root.certificatePem, privateKeyPem: p384 }), (err: unknown) => err instanceof PemError && err.field === "privateKeyPem");
    const corrupt = root.certificatePem.replace(/\n[A-Za-z0-9+/]{10}/, "\n!!!!!!!!!!");
    await assert.rejects(loadSigningCa({ certificatePem: corrupt, privateKeyPem: root.privateKeyPem }), PemError);
  });

  test("a certificate that is not a CA (openssl-made leaf): CaUnavailableError", async () => {
    const keyPath = join(dir, "leaf-key.pem");
    await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath]);
    const certPath = join(dir, "leaf-cert.pem");
    await run("openssl", ["req", "-x509", "-new", "-key", keyPath, "-subj", "/CN=leaf", "-days", "1", "-addext", "basicConstraints=critical,CA:FALSE", "-out", certPath]);
    const [certificatePem, privateKeyPem] = await Promise.all([openssl("x509", "-in", certPath), openssl("pkey", "-in", keyPath)]);
    await assert.rejects(loadSigningCa({ certificatePem, privateKeyPem }), (err: unknown) => err instanceof CaUnavailableError && /cA=true/.test(err.message));
  });

  test("a CA certificate without keyCertSign: CaUnavailableError", async () => {
    const keyPath = join(dir, "ca2-key.pem");
    await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath]);
    const certPath = join(dir, "ca2-cert.pem");
    await run("openssl", ["req", "-x509", "-new", "-key", keyPath, "-subj", "/CN=ca2", "-days", "1", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,cRLSign", "-out", certPath]);
    const [certificatePem, privateKeyPem] = await Promise.all([openssl("x509", "-in", certPath), openssl("pkey", "-in", keyPath)]);
    await assert.rejects(loadSigningCa({ certificatePem, privateKeyPem }), (err: unknown) => err instanceof CaUnavailableError && /keyCertSign/.test(err.message));
  });

  test("item 40: a CA whose SPIFFE URI SAN has a path (or is not a valid SPIFFE ID) is refused; a non-SPIFFE URI is left alone", async () => {
    const keyPath = join(dir, "ca40-key.pem");
    await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath]);
    const privateKeyPem = await openssl("pkey", "-in", keyPath);
    const caWithUri = async (name: string, uri: string) => {
      const certPath = join(dir, `${name}.pem`);
      await run("openssl", ["req", "-x509", "-new", "-key", keyPath, "-subj", `/CN=${name}`, "-days", "1", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", `subjectAltName=URI:${uri}`, "-out", certPath]);
      return openssl("x509", "-in", certPath);
    };
    for (const uri of [`spiffe://${TD}/ca`, `spiffe://${TD}/`, "spiffe://Strait.local"]) {
      const certificatePem = await caWithUri("ca40", uri);
      await assert.rejects(loadSigningCa({ certificatePem, privateKeyPem }), (err: unknown) => err instanceof CaUnavailableError && /no path/.test(err.message), uri);
    }
    const ok = await loadSigningCa({ certificatePem: await caWithUri("ca40ok", `spiffe://${TD}`), privateKeyPem });
    assert.equal(ok.certificate.subject, "CN=ca40ok");
    const other = await loadSigningCa({ certificatePem: await caWithUri("ca40https", "https://ca.example/policy"), privateKeyPem });
    assert.equal(other.certificate.subject, "CN=ca40https");
  });

  test("an openssl-made P-256 CA loads and signs", async () => {
    const keyPath = join(dir, "ca3-key.pem");
    await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath]);
    const certPath = join(dir, "ca3-cert.pem");
    await run("openssl", ["req", "-x509", "-new", "-key", keyPath, "-subj", "/O=Ext/CN=ca3", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", certPath]);
    const [certificatePem, privateKeyPem] = await Promise.all([openssl("x509", "-in", certPath), openssl("pkey", "-in", keyPath)]);
    const ca = await loadSigningCa({ certificatePem, privateKeyPem });
    assert.equal(ca.certificate.subject, "O=Ext, CN=ca3");
    const child = await createIntermediateCa({ certificatePem, privateKeyPem }, { trustDomain: TD, clock: systemClock });
    const childPath = await file("ca3-child.pem", child.certificatePem);
    assert.equal((await openssl("verify", "-CAfile", certPath, childPath)).trim(), `${childPath}: OK`);
  });

  test("corrupted certificates and keys (seeded byte flips and truncations) raise only Strait errors", async () => {
    // The control API stages client-supplied pairs through loadSigningCa: anything else would be a 5xx.
    let seed = 0xca;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const mutate = (der: Uint8Array<ArrayBuffer>, i: number): Uint8Array<ArrayBuffer> => {
      if (i % 4 === 3) return der.slice(0, next() % der.length);
      const bytes = der.slice();
      for (let k = 0; k < 1 + (i % 3); k++) bytes[next() % bytes.length] = next() & 0xff;
      return bytes;
    };
    const certDer = new Uint8Array(x509.PemConverter.decodeFirst(intermediate.certificatePem));
    const keyDer = new Uint8Array(x509.PemConverter.decodeFirst(intermediate.privateKeyPem));
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const pairs = [
        { certificatePem: x509.PemConverter.encode(mutate(certDer, i), "CERTIFICATE"), privateKeyPem: intermediate.privateKeyPem },
        { certificatePem: intermediate.certificatePem, privateKeyPem: x509.PemConverter.encode(mutate(keyDer, i), "PRIVATE KEY") },
      ];
      for (const pair of pairs) {
        try {
          await loadSigningCa(pair);
        } catch (err) {
          assert.ok(err instanceof StraitError, `mutation ${i}: ${String(err)}`);
          refused++;
        }
      }
    }
    assert.ok(refused > 300, `only ${refused} of 600 corrupted pairs were refused`);
  });
});
