/**
 * Key pairs and CSRs made on the node: ECDSA P-256 through the runtime's WebCrypto.
 * The private key never leaves the node; only the CSR (public key + proof of
 * possession) goes to the issuer. Keys are extractable only so the state directory
 * can keep them (0600) for a restart during a control-plane outage.
 */
import { ECDSA_P256, ECDSA_SHA256, PEM_CERTIFICATE_REQUEST, encodePem, exportPrivateKeyPem, x509 } from "../../identity/x509.ts";
import { webCrypto } from "./webcrypto.ts";

export interface LocalKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** PKCS#8 PEM, for TLS `key:` and the 0600 state file. */
  privateKeyPem: string;
}

export async function generateLocalKey(): Promise<LocalKey> {
  const pair = (await webCrypto().subtle.generateKey(ECDSA_P256, true, ["sign", "verify"])) as CryptoKeyPair;
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, privateKeyPem: await exportPrivateKeyPem(pair.privateKey) };
}

/** A PKCS#10 CSR for `spiffeId` (one URI SAN; none when undefined), signed with the key: proof of possession. */
export async function createCsr(key: LocalKey, spiffeId: string | undefined): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: "O=strait-proxy",
      keys: { privateKey: key.privateKey, publicKey: key.publicKey },
      signingAlgorithm: ECDSA_SHA256,
      extensions: spiffeId === undefined ? [] : [new x509.SubjectAlternativeNameExtension([{ type: "url", value: spiffeId }])],
    },
    webCrypto(),
  );
  return encodePem(csr.rawData, PEM_CERTIFICATE_REQUEST);
}

/** True when the certificate's public key is the key's public half (the issuer signed what we asked for). */
export async function certificateMatchesKey(certPem: string, key: LocalKey): Promise<boolean> {
  const cert = new x509.X509Certificate(certPem);
  const a = new Uint8Array(cert.publicKey.rawData);
  const b = new Uint8Array(await webCrypto().subtle.exportKey("spki", key.publicKey));
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
