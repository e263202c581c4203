/**
 * The trust bundle the proxy verifies with: parsed from the control plane's SPIFFE
 * bundle document, split by use (x509-svid authorities for peers, jwt-svid keys for
 * snapshots and edge JWT-SVIDs), and turned into verifier anchors once per change.
 */
import { parseSpiffeBundle } from "../../identity/bundle.ts";
import { PEM_CERTIFICATE, encodePem, parseCertificateDer, type x509 } from "../../identity/x509.ts";
import type { TrustBundleView } from "../context.ts";
import type { TrustAnchors } from "./peer-verifier.ts";

export interface LoadedBundle {
  view: TrustBundleView;
  anchors: TrustAnchors;
  /** The document as published, for the state directory. */
  document: unknown;
}

/** @throws BundleError when the document is not a valid SPIFFE bundle of `trustDomain`. */
export function loadBundle(trustDomain: string, document: unknown): LoadedBundle {
  const bundle = parseSpiffeBundle(trustDomain, document);
  const certs: x509.X509Certificate[] = bundle.x509AuthoritiesDer.map((der, i) => parseCertificateDer(new Uint8Array(der).buffer, `keys.x5c[${i}]`));
  return {
    view: {
      trustDomain: bundle.trustDomain,
      x509AuthoritiesPem: certs.map((c) => encodePem(c.rawData, PEM_CERTIFICATE)).join(""),
      jwtAuthorities: bundle.jwtAuthorities,
      sequence: bundle.sequence ?? 0,
    },
    anchors: new Map([[bundle.trustDomain, certs]]),
    document,
  };
}
