/**
 * Certificates for the node proxy's transport tests, all built with ONE fixed clock:
 * good X.509-SVIDs come from the real issuer (`issueX509Svid` over a CSR, as the
 * control plane signs them); the bad peers of the refusal matrix are crafted with
 * @peculiar/x509 under the same intermediate, so the one thing wrong with each is
 * the thing under test.
 */
import { ManualClock, type Clock } from "../../src/core/clock.ts";
import { createIntermediateCa, createRootCa, loadSigningCa, type CaKeyPair, type SigningCa } from "../../src/identity/ca.ts";
import { parseCsr } from "../../src/identity/csr.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { issueX509Svid } from "../../src/identity/x509-svid.ts";
import { ECDSA_P256, ECDSA_SHA256, encodePem, exportPrivateKeyPem, x509 } from "../../src/identity/x509.ts";
import type { SvidCredentials } from "../../src/node-proxy/context.ts";
import { createCsr, generateLocalKey } from "../../src/node-proxy/identity/keys.ts";

/** 2031-03-04T05:06:07Z: far from today on purpose; nothing here depends on the calendar. */
export const FIXED_NOW = Date.UTC(2031, 2, 4, 5, 6, 7);

export interface TestPki {
  trustDomain: string;
  clock: Clock;
  root: CaKeyPair;
  intermediate: CaKeyPair;
  /** Roots as PEM (what a bundle's x509-svid keys hold). */
  anchorsPem: string;
  /** A real X.509-SVID from the issuer, valid at the clock's now unless `at`/`ttlSeconds` say otherwise. */
  issue(spiffeId: string, o?: { at?: number; ttlSeconds?: number }): Promise<SvidCredentials>;
  /** A crafted leaf under the intermediate with one thing wrong. */
  craft(spiffeId: string, defect: LeafDefect): Promise<SvidCredentials>;
}

export type LeafDefect = "ca-leaf" | "no-uri-san" | "two-uri-sans" | "no-digital-signature" | "client-eku-only-as-server";

function credentialsOf(spiffeId: string, cert: x509.X509Certificate, chainPem: string, keyPem: string): SvidCredentials {
  return { spiffeId, certChainPem: chainPem, keyPem, serial: cert.serialNumber.toLowerCase(), notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime() };
}

/**
 * A root (7 days) and intermediate (2 days) made at `now - 1 day`, so certificates can be issued
 * before `now` (expired at `now`) and after it (not yet valid at `now`).
 */
export async function createTestPki(o: { trustDomain: string; now?: number }): Promise<TestPki> {
  const now = o.now ?? FIXED_NOW;
  const caClock = new ManualClock(now - 86_400_000);
  const root = await createRootCa({ trustDomain: o.trustDomain, clock: caClock, ttlSeconds: 7 * 86400 });
  const intermediate = await createIntermediateCa(root, { trustDomain: o.trustDomain, clock: caClock, ttlSeconds: 2 * 86400 });
  const signing: SigningCa = await loadSigningCa(intermediate);
  const clock = new ManualClock(now);
  return {
    trustDomain: o.trustDomain,
    clock,
    root,
    intermediate,
    anchorsPem: root.certificatePem,
    async issue(spiffeId, opts = {}) {
      const key = await generateLocalKey();
      const id = SpiffeId.parse(spiffeId);
      const csr = await parseCsr(await createCsr(key, spiffeId), id);
      const svid = await issueX509Svid({ csr, spiffeId: id, ca: signing, clock: new ManualClock(opts.at ?? now), ttlSeconds: opts.ttlSeconds ?? 3600 });
      return credentialsOf(spiffeId, new x509.X509Certificate(svid.certificatePem), svid.certificatePem + intermediate.certificatePem, key.privateKeyPem);
    },
    async craft(spiffeId, defect) {
      const keys = (await crypto.subtle.generateKey(ECDSA_P256, true, ["sign", "verify"])) as CryptoKeyPair;
      const uris = defect === "no-uri-san" ? [] : defect === "two-uri-sans" ? [spiffeId, `${spiffeId}-second`] : [spiffeId];
      const ku = defect === "no-digital-signature" ? x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
      const eku = defect === "client-eku-only-as-server" ? [x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("").replace(/^[89a-f]/, "1"),
        subject: "O=strait-test",
        issuer: signing.certificate.subjectName,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 3_600_000),
        publicKey: keys.publicKey,
        signingKey: signing.privateKey,
        signingAlgorithm: ECDSA_SHA256,
        extensions: [
          new x509.BasicConstraintsExtension(defect === "ca-leaf", undefined, true),
          new x509.KeyUsagesExtension(defect === "ca-leaf" ? ku | x509.KeyUsageFlags.keyCertSign : ku, true),
          new x509.ExtendedKeyUsageExtension(eku, false),
          ...(uris.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(uris.map((value) => ({ type: "url" as const, value })), false)]),
        ],
      });
      const leafPem = encodePem(cert.rawData, "CERTIFICATE");
      return credentialsOf(spiffeId, cert, leafPem + intermediate.certificatePem, await exportPrivateKeyPem(keys.privateKey));
    },
  };
}
