// X.509-SVID issuance checked with the real openssl CLI (checklist section B, items 23-36).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ManualClock, systemClock } from "../../src/core/clock.ts";
import { createIntermediateCa, createRootCa, loadSigningCa, verifyIssuedBy, type CaKeyPair, type SigningCa } from "../../src/identity/ca.ts";
import { parseCsr, type ParsedCsr } from "../../src/identity/csr.ts";
import { CaUnavailableError, CsrIdentityMismatchError, PemError } from "../../src/identity/errors.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { inspectCertificates, issueX509Svid, type IssuedX509Svid } from "../../src/identity/x509-svid.ts";
import { x509 } from "../../src/identity/x509.ts";
import { extension, openssl, writeInDir } from "../support/openssl-cli.ts";

const run = promisify(execFile);
const TD = "strait.local";
const ID = SpiffeId.parse(`spiffe://${TD}/ns/default/sa/web`);

let dir: string;
let root: CaKeyPair;
let intermediate: CaKeyPair;
let ca: SigningCa;
let rootPath: string;
let intPath: string;

const file = (name: string, text: string): Promise<string> => writeInDir(dir, name, text);

async function webCryptoCsr(names: x509.JsonGeneralNames = [{ type: "url", value: ID.toString() }], subject?: string): Promise<string> {
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: names.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(names)],
    ...(subject === undefined ? {} : { name: subject }),
  });
  return csr.toString("pem");
}

async function opensslCsr(name: string, genpkey: string[], extra: string[] = []): Promise<string> {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  await run("openssl", ["genpkey", ...genpkey, "-out", keyPath]);
  await run("openssl", ["req", "-new", "-key", keyPath, ...extra, "-out", csrPath]);
  return readFile(csrPath, "utf8");
}

async function verifyChain(svid: IssuedX509Svid, name: string, ...extra: string[]): Promise<string> {
  const leafPath = await file(name, svid.certificatePem);
  return (await openssl("verify", "-CAfile", rootPath, "-untrusted", intPath, ...extra, leafPath)).trim().replace(`${leafPath}: `, "");
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "strait-svid-"));
  root = await createRootCa({ trustDomain: TD, clock: systemClock });
  intermediate = await createIntermediateCa(root, { trustDomain: TD, clock: systemClock });
  ca = await loadSigningCa(intermediate);
  rootPath = await file("root.pem", root.certificatePem);
  intPath = await file("intermediate.pem", intermediate.certificatePem);
});
after(() => rm(dir, { recursive: true, force: true }));

describe("leaf from a WebCrypto CSR", () => {
  let svid: IssuedX509Svid;
  let text: string;
  before(async () => {
    const csr = await parseCsr(await webCryptoCsr(), ID);
    svid = await issueX509Svid({ csr, spiffeId: ID, ca, clock: systemClock, ttlSeconds: 3600, dnsNames: ["web.default.svc.cluster.local"] });
    text = await openssl("x509", "-in", await file("leaf.pem", svid.certificatePem), "-text", "-noout");
  });

  test("openssl verify -CAfile root -untrusted intermediate prints OK", async () => {
    assert.equal(await verifyChain(svid, "leaf-verify.pem"), "OK");
  });

  test("item 57: passes openssl -purpose sslclient and -purpose sslserver", async () => {
    assert.equal(await verifyChain(svid, "leaf-client.pem", "-purpose", "sslclient"), "OK");
    assert.equal(await verifyChain(svid, "leaf-server.pem", "-purpose", "sslserver"), "OK");
  });

  test("items 23, 24, 26: one URI SAN (the SPIFFE ID) plus the DNS name, critical, empty Subject", async () => {
    assert.deepEqual(extension(text, "X509v3 Subject Alternative Name"), {
      critical: true,
      value: `URI:${ID.toString()}, DNS:web.default.svc.cluster.local`,
    });
    assert.match(text, /^\s*Subject:\s*$/m);
    assert.equal(svid.spiffeId, ID.toString());
  });

  test("item 27: basicConstraints critical CA:FALSE", () => {
    assert.deepEqual(extension(text, "X509v3 Basic Constraints"), { critical: true, value: "CA:FALSE" });
  });

  test("items 28, 29, 30: keyUsage critical, Digital Signature only for an EC key, no certSign/cRLSign", () => {
    assert.deepEqual(extension(text, "X509v3 Key Usage"), { critical: true, value: "Digital Signature" });
    assert.doesNotMatch(text, /Certificate Sign|CRL Sign/);
  });

  test("item 31: EKU has serverAuth and clientAuth", () => {
    assert.equal(extension(text, "X509v3 Extended Key Usage")?.value, "TLS Web Server Authentication, TLS Web Client Authentication");
  });

  test("item 33: serial matches openssl's, positive, 16 octets, top bit clear", async () => {
    const serial = (await openssl("x509", "-in", await file("leaf-serial.pem", svid.certificatePem), "-noout", "-serial")).trim();
    assert.equal(serial, `serial=${svid.serial.toUpperCase()}`);
    assert.match(svid.serial, /^[0-9a-f]{32}$/);
    assert.ok(Number.parseInt(svid.serial.slice(0, 2), 16) < 0x80);
    assert.ok(BigInt(`0x${svid.serial}`) > 0n);
  });

  test("item 33: serials are unique across many issuances", async () => {
    const csr = await parseCsr(await webCryptoCsr(), ID);
    const serials = new Set<string>();
    for (let i = 0; i < 50; i++) serials.add((await issueX509Svid({ csr, spiffeId: ID, ca, clock: systemClock, ttlSeconds: 60 })).serial);
    assert.equal(serials.size, 50);
    for (const s of serials) assert.ok(s.length <= 40 && Number.parseInt(s.slice(0, 2), 16) < 0x80 && BigInt(`0x${s}`) > 0n);
  });

  test("item 34: SKI present, AKI equals the intermediate's SKI", async () => {
    const intText = await openssl("x509", "-in", intPath, "-text", "-noout");
    const intSki = extension(intText, "X509v3 Subject Key Identifier")?.value;
    assert.ok(intSki);
    assert.equal(extension(text, "X509v3 Authority Key Identifier")?.value.replace(/^keyid:/, ""), intSki);
    assert.match(extension(text, "X509v3 Subject Key Identifier")?.value ?? "", /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
  });

  test("item 36: ecdsa-with-SHA256 and a DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs)", async () => {
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    const cert = new x509.X509Certificate(svid.certificatePem);
    const sigPath = join(dir, "sig.der");
    await writeFile(sigPath, new Uint8Array(cert.signature));
    const parsed = await openssl("asn1parse", "-inform", "DER", "-in", sigPath);
    const lines = parsed.trim().split("\n");
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? "", /cons: SEQUENCE/);
    assert.match(lines[1] ?? "", /prim: INTEGER/);
    assert.match(lines[2] ?? "", /prim: INTEGER/);
    // Openssl checks the signature, so a raw r||s value could not have verified.
    assert.equal(await verifyIssuedBy(svid.certificatePem, intermediate.certificatePem), true);
    assert.equal(await verifyIssuedBy(svid.certificatePem, root.certificatePem), false);
  });

  test("chainPem is the leaf then the intermediate", async () => {
    const certs = await inspectCertificates(svid.chainPem);
    assert.equal(certs.length, 2);
    assert.equal(svid.chainPem, svid.certificatePem + intermediate.certificatePem);
    assert.equal(certs[0]?.serial, svid.serial);
    assert.equal(certs[1]?.isCa, true);
  });
});

describe("leaves from openssl req CSRs", () => {
  test("P-256 CSR with a CN and a different-looking Subject: the leaf keeps an empty Subject and only the caller's ID (item 35)", async () => {
    const pem = await opensslCsr("ossl-p256", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], ["-subj", "/O=Evil/CN=spiffe:\\/\\/strait.local\\/ns\\/kube-system\\/sa\\/admin"]);
    const svid = await issueX509Svid({ csr: await parseCsr(pem, ID), spiffeId: ID, ca, clock: systemClock, ttlSeconds: 600 });
    assert.equal(await verifyChain(svid, "ossl-p256.pem", "-purpose", "sslclient"), "OK");
    const text = await openssl("x509", "-in", await file("ossl-p256-leaf.pem", svid.certificatePem), "-text", "-noout");
    assert.match(text, /^\s*Subject:\s*$/m);
    assert.deepEqual(extension(text, "X509v3 Subject Alternative Name"), { critical: true, value: `URI:${ID.toString()}` });
    // The leaf carries the CSR's public key.
    const leafKey = await openssl("x509", "-in", join(dir, "ossl-p256-leaf.pem"), "-noout", "-pubkey");
    const csrKey = await openssl("pkey", "-in", join(dir, "ossl-p256.key"), "-pubout");
    assert.equal(leafKey, csrKey);
  });

  test("items 29, 57: RSA 2048 CSR gets Digital Signature + Key Encipherment and passes both purposes", async () => {
    const pem = await opensslCsr("ossl-rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], ["-subj", "/CN=x"]);
    const svid = await issueX509Svid({ csr: await parseCsr(pem, ID), spiffeId: ID, ca, clock: systemClock, ttlSeconds: 600 });
    const text = await openssl("x509", "-in", await file("ossl-rsa-leaf.pem", svid.certificatePem), "-text", "-noout");
    assert.deepEqual(extension(text, "X509v3 Key Usage"), { critical: true, value: "Digital Signature, Key Encipherment" });
    assert.match(text, /Public-Key: \(2048 bit\)/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.equal(await verifyChain(svid, "ossl-rsa-c.pem", "-purpose", "sslclient"), "OK");
    assert.equal(await verifyChain(svid, "ossl-rsa-s.pem", "-purpose", "sslserver"), "OK");
  });

  test("a CSR naming another identity never reaches issuance", async () => {
    const pem = await opensslCsr("ossl-other", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], ["-subj", "/CN=x", "-addext", "subjectAltName=URI:spiffe://strait.local/ns/kube-system/sa/admin"]);
    await assert.rejects(parseCsr(pem, ID), CsrIdentityMismatchError);
  });
});

describe("validity (item 32) with a frozen clock", () => {
  const T0 = Date.UTC(2026, 5, 1, 10, 0, 0, 250);
  const T0s = Date.UTC(2026, 5, 1, 10, 0, 0);
  let frozenCa: SigningCa;
  let csr: ParsedCsr;
  let frozenRoot: CaKeyPair;
  before(async () => {
    const clock = new ManualClock(T0 - 3600_000);
    frozenRoot = await createRootCa({ trustDomain: TD, clock });
    frozenCa = await loadSigningCa(await createIntermediateCa(frozenRoot, { trustDomain: TD, clock, ttlSeconds: 2 * 3600 }));
    csr = await parseCsr(await webCryptoCsr(), ID);
  });

  test("notBefore is now-30 s and notAfter now+ttl, and openssl reads the same dates", async () => {
    const svid = await issueX509Svid({ csr, spiffeId: ID, ca: frozenCa, clock: new ManualClock(T0), ttlSeconds: 600 });
    assert.equal(svid.notBefore.getTime(), T0s - 30_000);
    assert.equal(svid.notAfter.getTime(), T0s + 600_000);
    const dates = await openssl("x509", "-in", await file("frozen.pem", svid.certificatePem), "-noout", "-startdate", "-enddate");
    const [start, end] = dates.trim().split("\n").map((l) => new Date(l.replace(/^not(Before|After)=/, "")).getTime());
    assert.equal(start, svid.notBefore.getTime());
    assert.equal(end, svid.notAfter.getTime());
  });

  test("notAfter is clamped to the CA's notAfter", async () => {
    // The CA ends at T0 + 1 h; ask for 2 h.
    const svid = await issueX509Svid({ csr, spiffeId: ID, ca: frozenCa, clock: new ManualClock(T0), ttlSeconds: 7200 });
    assert.equal(svid.notAfter.getTime(), frozenCa.notAfter.getTime());
    assert.equal(svid.notAfter.getTime(), T0s + 3600_000);
    const end = (await openssl("x509", "-in", await file("clamped.pem", svid.certificatePem), "-noout", "-enddate")).trim();
    assert.equal(new Date(end.replace("notAfter=", "")).getTime(), frozenCa.notAfter.getTime());
  });

  test("the backdated notBefore never precedes the CA's notBefore", async () => {
    const svid = await issueX509Svid({ csr, spiffeId: ID, ca: frozenCa, clock: new ManualClock(frozenCa.notBefore.getTime() + 5_000), ttlSeconds: 60 });
    assert.equal(svid.notBefore.getTime(), frozenCa.notBefore.getTime());
  });

  test("an expired or not-yet-valid CA: CaUnavailableError", async () => {
    await assert.rejects(issueX509Svid({ csr, spiffeId: ID, ca: frozenCa, clock: new ManualClock(frozenCa.notAfter.getTime()), ttlSeconds: 60 }), CaUnavailableError);
    await assert.rejects(issueX509Svid({ csr, spiffeId: ID, ca: frozenCa, clock: new ManualClock(frozenCa.notBefore.getTime() - 1000), ttlSeconds: 60 }), CaUnavailableError);
  });
});

describe("caller misuse is a TypeError", () => {
  let csr: ParsedCsr;
  before(async () => {
    csr = await parseCsr(await webCryptoCsr([]), ID);
  });

  test("ttlSeconds outside 1..86400 or not an integer", async () => {
    for (const ttlSeconds of [0, -1, 86_401, 1.5, Number.NaN]) {
      await assert.rejects(issueX509Svid({ csr, spiffeId: ID, ca, clock: systemClock, ttlSeconds }), TypeError, String(ttlSeconds));
    }
    const oneDay = await issueX509Svid({ csr, spiffeId: ID, ca, clock: systemClock, ttlSeconds: 86_400 });
    assert.equal(oneDay.notAfter.getTime() - oneDay.notBefore.getTime(), 86_400_000 + 30_000);
  });

  test("items 25, 47: a SPIFFE ID without a path", async () => {
    await assert.rejects(issueX509Svid({ csr, spiffeId: SpiffeId.parse(`spiffe://${TD}`), ca, clock: systemClock, ttlSeconds: 60 }), TypeError);
  });

  test("a SPIFFE ID outside the CA's trust domain", async () => {
    await assert.rejects(issueX509Svid({ csr, spiffeId: SpiffeId.parse("spiffe://other.example/ns/a/sa/b"), ca, clock: systemClock, ttlSeconds: 60 }), TypeError);
  });

  test("a dnsNames entry that is not a DNS name", async () => {
    await assert.rejects(issueX509Svid({ csr, spiffeId: ID, ca, clock: systemClock, ttlSeconds: 60, dnsNames: ["bad name"] }), TypeError);
  });
});

describe("inspectCertificates", () => {
  test("describes each certificate like openssl does", async () => {
    const csr = await parseCsr(await webCryptoCsr(), ID);
    const svid = await issueX509Svid({ csr, spiffeId: ID, ca, clock: systemClock, ttlSeconds: 300, dnsNames: ["web"] });
    const bundle = `${svid.chainPem}${root.certificatePem}`;
    const [leaf, inter, top] = await inspectCertificates(bundle);
    assert.ok(leaf && inter && top);
    const leafPath = await file("inspect-leaf.pem", svid.certificatePem);
    const fingerprint = (await openssl("x509", "-in", leafPath, "-noout", "-fingerprint", "-sha256")).trim();
    assert.equal(`sha256 Fingerprint=${leaf.sha256Fingerprint}`, fingerprint);
    assert.deepEqual(
      { ...leaf, sha256Fingerprint: undefined },
      {
        spiffeId: ID.toString(),
        serial: svid.serial,
        subject: "",
        issuer: `O=Strait, CN=Strait Intermediate CA ${TD}`,
        notBefore: svid.notBefore.toISOString(),
        notAfter: svid.notAfter.toISOString(),
        keyAlgorithm: "ECDSA P-256",
        isCa: false,
        keyUsage: ["digitalSignature"],
        extKeyUsage: ["serverAuth", "clientAuth"],
        uris: [ID.toString()],
        dnsNames: ["web"],
        sha256Fingerprint: undefined,
      },
    );
    assert.equal(inter.spiffeId, `spiffe://${TD}`);
    assert.deepEqual(inter.keyUsage, ["keyCertSign", "cRLSign"]);
    assert.equal(top.isCa, true);
    assert.equal(top.subject, top.issuer);
  });

  test("spiffeId is null for a certificate without exactly one valid SPIFFE URI", async () => {
    const certPath = join(dir, "plain.pem");
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "plain.key"), "-subj", "/CN=plain", "-days", "1", "-addext", "subjectAltName=URI:https://a.example/,URI:spiffe://strait.local/x", "-out", certPath]);
    const [info] = await inspectCertificates(await readFile(certPath, "utf8"));
    assert.equal(info?.spiffeId, null);
    assert.equal(info?.keyAlgorithm, "RSA 2048");
    assert.deepEqual(info?.uris, ["https://a.example/", "spiffe://strait.local/x"]);
  });

  test("a corrupted certificate is a PemError naming its position, never a stray parser error", async () => {
    const der = new Uint8Array(x509.PemConverter.decodeFirst(intermediate.certificatePem));
    let seed = 0x1d;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const bytes = i % 4 === 3 ? der.slice(0, next() % der.length) : der.slice();
      if (i % 4 !== 3) for (let k = 0; k < 1 + (i % 3); k++) bytes[next() % bytes.length] = next() & 0xff;
      try {
        await inspectCertificates(root.certificatePem + x509.PemConverter.encode(bytes, "CERTIFICATE"));
      } catch (err) {
        assert.ok(err instanceof PemError && err.field === "pem[1]", `mutation ${i}: ${String(err)}`);
        refused++;
      }
    }
    assert.ok(refused > 0);
  });

  test("keys in the same file are skipped; no certificate at all is a PemError", async () => {
    const withKey = `${root.privateKeyPem}${root.certificatePem}`;
    assert.equal((await inspectCertificates(withKey)).length, 1);
    await assert.rejects(inspectCertificates(root.privateKeyPem), PemError);
    await assert.rejects(inspectCertificates("nothing here"), PemError);
  });
});
