// The P-256 fast path of parseCsr (one schema parse, key imported once from its point,
// signature and SAN read concurrently) against the @peculiar/x509 reading of the same CSRs,
// and the refusals it must keep: malformed SAN or extensionRequest, several URIs, signature first.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { systemClock } from "../../src/core/clock.ts";
import { createIntermediateCa, createRootCa, loadSigningCa, type CaKeyPair, type SigningCa } from "../../src/identity/ca.ts";
import { parseCsr } from "../../src/identity/csr.ts";
import { CsrError, CsrIdentityMismatchError, CsrSignatureError } from "../../src/identity/errors.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { issueX509Svid } from "../../src/identity/x509-svid.ts";
import { toHex, x509 } from "../../src/identity/x509.ts";
import { openssl, writeInDir } from "../support/openssl-cli.ts";

const run = promisify(execFile);
const TD = "strait.local";
const ID = SpiffeId.parse(`spiffe://${TD}/ns/default/sa/web`);
const P256 = { name: "ECDSA", namedCurve: "P-256" };
const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

let dir: string;
let root: CaKeyPair;
let intermediate: CaKeyPair;
let ca: SigningCa;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "strait-csr-fast-"));
  root = await createRootCa({ trustDomain: TD, clock: systemClock });
  intermediate = await createIntermediateCa(root, { trustDomain: TD, clock: systemClock });
  ca = await loadSigningCa(intermediate);
});
after(() => rm(dir, { recursive: true, force: true }));

async function p256Keys(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function csrPem(o: { hash?: string; extensions?: x509.Extension[]; attributes?: x509.Attribute[]; keys?: CryptoKeyPair } = {}): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys: o.keys ?? (await p256Keys()),
    signingAlgorithm: { name: "ECDSA", hash: o.hash ?? "SHA-256" },
    extensions: o.extensions ?? [new x509.SubjectAlternativeNameExtension([{ type: "url", value: ID.toString() }])],
    ...(o.attributes === undefined ? {} : { attributes: o.attributes }),
  });
  return csr.toString("pem");
}

/** A CSR whose signature was made by another key than the one it carries. */
async function wronglySigned(extensions: x509.Extension[]): Promise<string> {
  const a = await p256Keys();
  const b = await p256Keys();
  return csrPem({ keys: { publicKey: a.publicKey, privateKey: b.privateKey }, extensions });
}

/** A subjectAltName extension whose value is DER but not GeneralNames. */
function malformedSan(): x509.Extension {
  return new x509.Extension("2.5.29.17", false, AsnConvert.serialize(new OctetString(new Uint8Array([1, 2, 3]))));
}

async function verifyLeaf(pem: string, name: string): Promise<string> {
  const leaf = await writeInDir(dir, `${name}.pem`, pem);
  const rootPath = await writeInDir(dir, "root.pem", root.certificatePem);
  const intPath = await writeInDir(dir, "int.pem", intermediate.certificatePem);
  return (await openssl("verify", "-CAfile", rootPath, "-untrusted", intPath, leaf)).trim().replace(`${leaf}: `, "");
}

describe("P-256 fast path agrees with @peculiar/x509", () => {
  test("SPKI, key identifier, key and names equal the library's reading of the same CSR", async () => {
    const pem = await csrPem({
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: "url", value: ID.toString() }, { type: "dns", value: "web.default.svc" }])],
    });
    const parsed = await parseCsr(pem, ID);
    const library = new x509.Pkcs10CertificateRequest(pem);
    assert.equal(parsed.keyAlgorithm, "ECDSA P-256");
    assert.deepEqual(parsed.requestedUris, [ID.toString()]);
    assert.deepEqual(parsed.requestedDnsNames, ["web.default.svc"]);
    assert.ok(parsed.spki !== undefined && parsed.subjectKeyIdentifier !== undefined);
    assert.equal(toHex(parsed.spki), toHex(library.publicKey.rawData));
    const ski = await x509.SubjectKeyIdentifierExtension.create(library.publicKey);
    assert.equal(toHex(parsed.subjectKeyIdentifier), ski.keyId.toLowerCase());
    assert.equal(toHex(await crypto.subtle.exportKey("spki", parsed.publicKey)), toHex(library.publicKey.rawData));
  });

  for (const hash of ["SHA-384", "SHA-512"]) {
    test(`a WebCrypto P-256 CSR signed with ECDSA ${hash} is accepted and its leaf passes openssl verify`, async () => {
      const parsed = await parseCsr(await csrPem({ hash }), ID);
      assert.equal(parsed.keyAlgorithm, "ECDSA P-256");
      const svid = await issueX509Svid({ csr: parsed, spiffeId: ID, ca, clock: systemClock, ttlSeconds: 600 });
      assert.equal(await verifyLeaf(svid.certificatePem, `leaf-${hash}`), "OK");
    });
  }

  test("an openssl P-256 key with a compressed point takes the general path; the leaf carries the same key, uncompressed", async () => {
    const keyPath = join(dir, "compressed.key");
    const csrPath = join(dir, "compressed.csr");
    await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${keyPath}.plain`]);
    await run("openssl", ["ec", "-in", `${keyPath}.plain`, "-conv_form", "compressed", "-out", keyPath]);
    await run("openssl", ["req", "-new", "-key", keyPath, "-subj", "/CN=x", "-addext", `subjectAltName=URI:${ID.toString()}`, "-out", csrPath]);
    const pem = await readFile(csrPath, "utf8");
    assert.equal(new Uint8Array(new x509.Pkcs10CertificateRequest(pem).publicKey.rawData).length, 59, "the CSR carries a compressed point");
    const parsed = await parseCsr(pem, ID);
    assert.equal(parsed.keyAlgorithm, "ECDSA P-256");
    assert.equal(parsed.spki, undefined, "not the fast path");
    const svid = await issueX509Svid({ csr: parsed, spiffeId: ID, ca, clock: systemClock, ttlSeconds: 600 });
    assert.equal(await verifyLeaf(svid.certificatePem, "leaf-compressed"), "OK");
    const leafKey = await openssl("x509", "-in", await writeInDir(dir, "leaf-compressed-2.pem", svid.certificatePem), "-noout", "-pubkey");
    // The same key, written uncompressed (as before this fast path existed).
    const csrKey = await openssl("ec", "-in", keyPath, "-pubout", "-conv_form", "uncompressed");
    assert.equal(leafKey, csrKey);
  });
});

describe("subjectAltName and extensionRequest refusals", () => {
  test("a subjectAltName that is not GeneralNames: CsrError naming csr", async () => {
    await assert.rejects(parseCsr(await csrPem({ extensions: [malformedSan()] }), ID), (err: unknown) => {
      assert.ok(err instanceof CsrError && !(err instanceof CsrSignatureError), String(err));
      assert.equal(err.code, "ERR_CSR_INVALID");
      assert.equal(err.field, "csr");
      assert.match(err.message, /subjectAltName is malformed/);
      return true;
    });
  });

  test("a malformed subjectAltName under a bad signature: the signature is reported first", async () => {
    await assert.rejects(parseCsr(await wronglySigned([malformedSan()]), ID), (err: unknown) => err instanceof CsrSignatureError && err.code === "ERR_CSR_SIGNATURE");
  });

  test("an extensionRequest whose value is not Extensions: CsrError naming csr", async () => {
    const attribute = new x509.Attribute(EXTENSION_REQUEST, [AsnConvert.serialize(new OctetString(new Uint8Array([9])))]);
    await assert.rejects(parseCsr(await csrPem({ extensions: [], attributes: [attribute] }), ID), (err: unknown) => {
      assert.ok(err instanceof CsrError, String(err));
      assert.equal(err.code, "ERR_CSR_INVALID");
      assert.match(err.message, /extensionRequest is malformed/);
      return true;
    });
  });

  test("two subjectAltName extensions with one URI each count as two URIs", async () => {
    const pem = await csrPem({
      extensions: [
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: ID.toString() }]),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: "spiffe://strait.local/ns/default/sa/other" }]),
      ],
    });
    await assert.rejects(parseCsr(pem, ID), (err: unknown) => err instanceof CsrIdentityMismatchError && /2 URIs/.test(err.message));
  });

  test("two URI SANs under a bad signature: the signature is reported first", async () => {
    const pem = await wronglySigned([
      new x509.SubjectAlternativeNameExtension([
        { type: "url", value: ID.toString() },
        { type: "url", value: "spiffe://strait.local/ns/default/sa/other" },
      ]),
    ]);
    await assert.rejects(parseCsr(pem, ID), CsrSignatureError);
  });

  test("name types other than URI and DNS are ignored; the URI still has to match", async () => {
    const names: x509.JsonGeneralNames = [
      { type: "email", value: "web@example.com" },
      { type: "ip", value: "10.0.0.1" },
      { type: "dn", value: "CN=web" },
      { type: "id", value: "1.2.3.4" },
      { type: "dns", value: "web.default.svc" },
      { type: "url", value: ID.toString() },
    ];
    const parsed = await parseCsr(await csrPem({ extensions: [new x509.SubjectAlternativeNameExtension(names)] }), ID);
    assert.deepEqual(parsed.requestedUris, [ID.toString()]);
    assert.deepEqual(parsed.requestedDnsNames, ["web.default.svc"]);
    const other = SpiffeId.parse(`spiffe://${TD}/ns/default/sa/other`);
    await assert.rejects(parseCsr(await csrPem({ extensions: [new x509.SubjectAlternativeNameExtension(names)] }), other), CsrIdentityMismatchError);
  });
});
