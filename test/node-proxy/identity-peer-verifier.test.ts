// The X.509-SVID verifier on chains the TLS matrix cannot easily present: intermediates that are
// not CAs or break pathLen, unknown critical extensions, empty bundles, root-path SPIFFE IDs,
// overlong chains, garbage DER. One fixed clock builds and checks every certificate.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createTestPki, FIXED_NOW, type TestPki } from "../support/node-proxy-certs.ts";
import { verifyPeerChain, anchorsFromPem, type TrustAnchors } from "../../src/node-proxy/identity/peer-verifier.ts";
import { PeerVerificationError, type PeerRefusalReason } from "../../src/node-proxy/identity/errors.ts";
import { loadSigningCa } from "../../src/identity/ca.ts";
import { ECDSA_P256, ECDSA_SHA256, x509 } from "../../src/identity/x509.ts";

const TD = "strait.local";
const ID = `spiffe://${TD}/ns/shop/sa/web`;
let pki: TestPki;
let anchors: TrustAnchors;

function chainOf(pem: string): ArrayBuffer[] {
  return x509.PemConverter.decode(pem);
}

async function refusedWith(chainDer: ArrayBuffer[], reason: PeerRefusalReason, a: TrustAnchors = anchors): Promise<void> {
  await assert.rejects(verifyPeerChain({ chainDer, anchors: a, now: FIXED_NOW, peerRole: "client" }), (err: unknown) => {
    assert.ok(err instanceof PeerVerificationError, String(err));
    assert.equal(err.reason, reason, err.message);
    return true;
  });
}

/** Signs a certificate with the test intermediate (or `issuer`), with the given extensions. */
async function sign(o: { uris?: string[]; ca?: boolean; pathLen?: number; ku?: number; extra?: x509.Extension[]; issuer?: { cert: x509.X509Certificate; key: CryptoKey }; subject?: string }) {
  const intermediate = await loadSigningCa(pki.intermediate);
  const issuer = o.issuer ?? { cert: intermediate.certificate, key: intermediate.privateKey };
  const keys = (await crypto.subtle.generateKey(ECDSA_P256, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "01" + Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join(""),
    subject: o.subject ?? "O=strait-test",
    issuer: issuer.cert.subjectName,
    notBefore: new Date(FIXED_NOW - 60_000),
    notAfter: new Date(FIXED_NOW + 3_600_000),
    publicKey: keys.publicKey,
    signingKey: issuer.key,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(o.ca ?? false, o.pathLen, true),
      new x509.KeyUsagesExtension(o.ku ?? (o.ca === true ? x509.KeyUsageFlags.keyCertSign : x509.KeyUsageFlags.digitalSignature), true),
      ...((o.uris ?? [ID]).length === 0 ? [] : [new x509.SubjectAlternativeNameExtension((o.uris ?? [ID]).map((value) => ({ type: "url" as const, value })))]),
      ...(o.extra ?? []),
    ],
  });
  return { cert, key: keys.privateKey, der: cert.rawData };
}

before(async () => {
  pki = await createTestPki({ trustDomain: TD });
  anchors = anchorsFromPem(TD, pki.anchorsPem);
});

describe("peer verifier (checklist D) beyond the TLS matrix", () => {
  test("a good SVID from the issuer verifies, leaf then intermediate", async () => {
    const good = await pki.issue(ID);
    assert.deepEqual(await verifyPeerChain({ chainDer: chainOf(good.certChainPem), anchors, now: FIXED_NOW, peerRole: "client", expected: ID }), { spiffeId: ID, trustDomain: TD });
  });

  test("missing intermediate: no path to the root", async () => {
    const good = await pki.issue(ID);
    await refusedWith(chainOf(good.certChainPem).slice(0, 1), "untrusted-chain");
  });

  test("an intermediate that is not a CA", async () => {
    const intermediate = await loadSigningCa(pki.intermediate);
    const notCa = await sign({ ca: false, uris: [], ku: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, subject: "CN=not-a-ca" });
    const leaf = await sign({ issuer: { cert: notCa.cert, key: notCa.key } });
    await refusedWith([leaf.der, notCa.der, intermediate.certificate.rawData], "bad-intermediate");
  });

  test("pathLen: the test intermediate has pathLen 0, so a CA under it cannot issue", async () => {
    const intermediate = await loadSigningCa(pki.intermediate);
    const sub = await sign({ ca: true, uris: [], subject: "CN=sub-ca" });
    const leaf = await sign({ issuer: { cert: sub.cert, key: sub.key } });
    await refusedWith([leaf.der, sub.der, intermediate.certificate.rawData], "bad-intermediate");
  });

  test("an unknown critical extension on the leaf", async () => {
    const leaf = await sign({ extra: [new x509.Extension("1.2.3.4.5.6.7", true, new Uint8Array([5, 0]))] });
    await refusedWith([leaf.der, (await loadSigningCa(pki.intermediate)).certificate.rawData], "unknown-critical-extension");
  });

  test("a leaf whose SPIFFE ID has no path, or is not a SPIFFE ID", async () => {
    const inter = (await loadSigningCa(pki.intermediate)).certificate.rawData;
    await refusedWith([(await sign({ uris: [`spiffe://${TD}`] })).der, inter], "invalid-spiffe-id");
    await refusedWith([(await sign({ uris: ["https://example.com/x"] })).der, inter], "invalid-spiffe-id");
  });

  test("key usage with keyCertSign on a leaf", async () => {
    const leaf = await sign({ ku: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign });
    await refusedWith([leaf.der, (await loadSigningCa(pki.intermediate)).certificate.rawData], "key-usage");
  });

  test("an empty bundle for the leaf's trust domain trusts nothing", async () => {
    const good = await pki.issue(ID);
    await refusedWith(chainOf(good.certChainPem), "untrusted-trust-domain", new Map([[TD, []]]));
  });

  test("an overlong chain and garbage DER are refused, never thrown as anything else", async () => {
    const good = chainOf((await pki.issue(ID)).certChainPem);
    await refusedWith([...good, ...good, ...good, ...good], "untrusted-chain");
    await refusedWith([new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]).buffer], "malformed");
    await refusedWith([], "no-certificate");
  });

  test("the trust anchor itself must be valid at the clock's time", async () => {
    const good = await pki.issue(ID);
    await assert.rejects(
      verifyPeerChain({ chainDer: chainOf(good.certChainPem), anchors, now: FIXED_NOW + 30 * 86_400_000, peerRole: "client" }),
      (err: unknown) => err instanceof PeerVerificationError && err.reason === "expired",
    );
  });
});
