// The leaf assembled from parts encoded once per CA (src/identity/leaf-certificate.ts) is
// byte for byte the TBSCertificate @peculiar/x509's X509CertificateGenerator builds from the
// same fields, for the P-256 fast path and the general (RSA) path.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { ManualClock } from "../../src/core/clock.ts";
import { authorityKeyIdentifier, createIntermediateCa, createRootCa, loadSigningCa, verifyIssuedBy, type CaKeyPair, type SigningCa } from "../../src/identity/ca.ts";
import { parseCsr, type ParsedCsr } from "../../src/identity/csr.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { issueX509Svid } from "../../src/identity/x509-svid.ts";
import { toHex, x509 } from "../../src/identity/x509.ts";

const TD = "strait.local";
const ID = SpiffeId.parse(`spiffe://${TD}/ns/default/sa/web`);
const T0 = Date.UTC(2026, 5, 1, 10, 0, 0);
const clock = new ManualClock(T0);

let intermediate: CaKeyPair;
let ca: SigningCa;

before(async () => {
  const caClock = new ManualClock(T0 - 3600_000);
  const root = await createRootCa({ trustDomain: TD, clock: caClock });
  intermediate = await createIntermediateCa(root, { trustDomain: TD, clock: caClock });
  ca = await loadSigningCa(intermediate);
});

async function csrFor(algorithm: RsaHashedKeyGenParams | EcKeyGenParams, signingAlgorithm: Algorithm): Promise<{ pem: string; publicKey: CryptoKey }> {
  const keys = (await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "url", value: ID.toString() }])],
  });
  return { pem: csr.toString("pem"), publicKey: keys.publicKey };
}

/** The DER TBSCertificate of a certificate, as the asn1-x509 schema reads it. */
function tbsHex(der: ArrayBuffer): string {
  const tbs = AsnConvert.parse(der, Certificate).tbsCertificateRaw;
  assert.ok(tbs !== undefined);
  return toHex(new Uint8Array(tbs));
}

/** The same leaf as the library's certificate generator writes it. */
async function libraryTbs(csr: ParsedCsr, publicKey: CryptoKey, serial: string, notBefore: Date, notAfter: Date, rsa: boolean, dnsNames: string[]): Promise<string> {
  const usages = rsa ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    issuer: ca.certificate.subjectName,
    notBefore,
    notAfter,
    publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: ID.toString() }, ...dnsNames.map((value) => ({ type: "dns" as const, value }))], true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey, false),
      await authorityKeyIdentifier(ca.certificate),
    ],
  });
  assert.equal(csr.requestedUris[0], ID.toString());
  return tbsHex(cert.rawData);
}

describe("leaf TBSCertificate equals X509CertificateGenerator's", () => {
  const cases: Array<[string, RsaHashedKeyGenParams | EcKeyGenParams, Algorithm, boolean]> = [
    ["P-256, ECDSA SHA-256 (fast path)", { name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" } as EcdsaParams, false],
    ["P-256, ECDSA SHA-384 (fast path)", { name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-384" } as EcdsaParams, false],
    ["RSA 2048 (general path)", { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }, true],
  ];
  for (const [name, algorithm, signing, rsa] of cases) {
    test(name, async () => {
      const { pem, publicKey } = await csrFor(algorithm, signing);
      const csr = await parseCsr(pem, ID);
      const dnsNames = ["web.default.svc", "web"];
      const svid = await issueX509Svid({ csr, spiffeId: ID, ca, clock, ttlSeconds: 600, dnsNames });
      const leaf = new x509.X509Certificate(svid.certificatePem);
      assert.equal(tbsHex(leaf.rawData), await libraryTbs(csr, publicKey, svid.serial, svid.notBefore, svid.notAfter, rsa, dnsNames));
      assert.equal(await verifyIssuedBy(svid.certificatePem, intermediate.certificatePem), true);
    });
  }
});
