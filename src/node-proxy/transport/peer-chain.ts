/**
 * The certificate chain a TLS peer presented, as DER, leaf first. Read from the
 * socket's parsed chain (never from the `subjectaltname` string, CVE-2021-44532);
 * the verifier does all checking.
 */
import type { DetailedPeerCertificate, TLSSocket } from "node:tls";

const MAX_CHAIN = 8;

export function presentedChain(socket: TLSSocket): ArrayBuffer[] {
  const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate | Record<string, never>;
  const out: ArrayBuffer[] = [];
  let cert: DetailedPeerCertificate | undefined = "raw" in leaf && leaf.raw !== undefined ? (leaf as DetailedPeerCertificate) : undefined;
  const seen = new Set<DetailedPeerCertificate>();
  while (cert !== undefined && !seen.has(cert) && out.length < MAX_CHAIN) {
    seen.add(cert);
    const raw = cert.raw;
    out.push(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer);
    cert = cert.issuerCertificate;
  }
  return out;
}
