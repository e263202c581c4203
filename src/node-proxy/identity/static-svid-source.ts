/**
 * An SvidSource over credentials handed in by the caller instead of fetched from the
 * control plane: for the benchmark, for tests that issue SVIDs directly with the
 * identity modules, and for running the transport against certificates from another
 * issuer. Same fail-closed rule as the SvidManager: expired or not-yet-valid
 * credentials are never returned.
 */
import type { Clock } from "../../core/clock.ts";
import { x509 } from "../../identity/x509.ts";
import type { IdentityChange, SvidCredentials, SvidSource, SvidStatus, TrustBundleView } from "../context.ts";
import type { TrustAnchors } from "./peer-verifier.ts";

export class StaticSvidSource implements SvidSource {
  private readonly creds = new Map<string, SvidCredentials>();
  private revoked = new Set<string>();
  private readonly listeners = new Set<(c: IdentityChange) => void>();
  private anchorsByDomain: TrustAnchors;

  constructor(
    private readonly o: { clock: Clock; nodeSpiffeId: string; trustDomain: string; x509AuthoritiesPem: string; jwtAuthorities?: ReadonlyMap<string, JsonWebKey> },
  ) {
    this.anchorsByDomain = StaticSvidSource.anchorsOf(o.trustDomain, o.x509AuthoritiesPem);
  }

  private static anchorsOf(trustDomain: string, pem: string): TrustAnchors {
    return new Map([[trustDomain, x509.PemConverter.decode(pem).map((der) => new x509.X509Certificate(der))]]);
  }

  /** Adds or replaces credentials (a rotation, as far as listeners can tell). */
  set(creds: SvidCredentials): void {
    this.creds.set(creds.spiffeId, creds);
    this.emit({ kind: "svid", spiffeId: creds.spiffeId });
  }

  revoke(spiffeIds: Iterable<string>): void {
    this.revoked = new Set(spiffeIds);
    this.emit({ kind: "revocations" });
  }

  credentialsFor(spiffeId: string): SvidCredentials | undefined {
    const c = this.creds.get(spiffeId);
    const now = this.o.clock.now();
    return c !== undefined && now >= c.notBefore && now < c.notAfter ? c : undefined;
  }

  nodeSpiffeId(): string {
    return this.o.nodeSpiffeId;
  }

  bundle(): TrustBundleView {
    return { trustDomain: this.o.trustDomain, x509AuthoritiesPem: this.o.x509AuthoritiesPem, jwtAuthorities: this.o.jwtAuthorities ?? new Map(), sequence: 0 };
  }

  anchors(): TrustAnchors {
    return this.anchorsByDomain;
  }

  isRevoked(spiffeId: string): boolean {
    return this.revoked.has(spiffeId);
  }

  onChange(listener: (change: IdentityChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): SvidStatus[] {
    const now = this.o.clock.now();
    return [...this.creds.values()].map((c) => ({
      spiffeId: c.spiffeId,
      serial: c.serial,
      notBefore: new Date(c.notBefore).toISOString(),
      notAfter: new Date(c.notAfter).toISOString(),
      renewAt: new Date(c.notAfter).toISOString(),
      state: now >= c.notAfter ? "expired" : "valid",
    }));
  }

  private emit(change: IdentityChange): void {
    for (const l of this.listeners) l(change);
  }
}
