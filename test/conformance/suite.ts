/**
 * The runtime conformance suite: one runtime-free function that exercises the pure core
 * (SPIFFE IDs, X.509-SVID issuance, JWT-SVIDs, the SPIFFE bundle, the config model) and
 * returns a JSON-able, deterministic result. `runtimes.test.ts` runs it on Node, inside
 * workerd and on Deno and requires the three results to be identical.
 *
 * Inputs that need files or randomness (CA, keys, CSR, YAML fixtures) are made by the caller
 * and passed in, so every runtime sees exactly the same bytes.
 */
import { ManualClock } from "../../src/core/clock.ts";
import { StraitError } from "../../src/core/errors.ts";
import { analyze } from "../../src/core/config/analyze.ts";
import { parseDocuments } from "../../src/core/config/parse-documents.ts";
import type { AnyResource } from "../../src/core/config/resource.ts";
import { validateResource } from "../../src/core/config/validate.ts";
import { buildSpiffeBundle, parseSpiffeBundle, trustBundleSet } from "../../src/identity/bundle.ts";
import { loadSigningCa } from "../../src/identity/ca.ts";
import { parseCsr } from "../../src/identity/csr.ts";
import { importJwtSigningKey } from "../../src/identity/jwt-key.ts";
import { mintJwtSvid, validateJwtSvid } from "../../src/identity/jwt-svid.ts";
import { SpiffeId, workloadId } from "../../src/identity/spiffe-id.ts";
import { inspectCertificates, issueX509Svid } from "../../src/identity/x509-svid.ts";
import { invalidSpiffeIds, validSpiffeIds } from "./spiffe-id-cases.ts";

export interface ConformanceInput {
  /** Frozen time (ms) for every clock in the suite. */
  now: number;
  root: { certificatePem: string; privateKeyPem: string };
  intermediate: { certificatePem: string; privateKeyPem: string };
  jwtSigningKeyPem: string;
  /** P-256 CSRs made by openssl: one plain, one with a URI SAN that disagrees with the identity. */
  csrPem: string;
  mismatchedCsrPem: string;
  /** YAML fixtures by name (Istio's examples and the sample config). */
  fixtures: Record<string, string>;
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; field?: string | undefined; message: string };

async function outcome(f: () => unknown): Promise<Outcome> {
  try {
    return { ok: true, value: await f() };
  } catch (err) {
    if (err instanceof StraitError) return { ok: false, code: err.code, field: err.field, message: err.message };
    return { ok: false, code: err instanceof Error ? err.name : "thrown", message: String(err) };
  }
}

export async function runConformance(input: ConformanceInput): Promise<Record<string, unknown>> {
  const clock = new ManualClock(input.now);
  const out: Record<string, unknown> = {};

  out.spiffeIdValid = await Promise.all(validSpiffeIds.map((c) => outcome(() => {
    const id = SpiffeId.parse(c.id);
    return { trustDomain: id.trustDomain, path: id.path, string: id.toString() };
  })));
  out.spiffeIdInvalid = await Promise.all(invalidSpiffeIds.map((c) => outcome(() => SpiffeId.parse(c.id).toString())));

  const ca = await loadSigningCa(input.intermediate);
  const id = workloadId("strait.local", "shop", "reviews");
  out.x509Svid = await outcome(async () => {
    const csr = await parseCsr(input.csrPem, id);
    const svid = await issueX509Svid({ csr, spiffeId: id, ca, clock, ttlSeconds: 3600 });
    // Serial and fingerprint are random per issuance; everything else must agree.
    return (await inspectCertificates(svid.chainPem)).map(({ serial: _s, sha256Fingerprint: _f, ...rest }) => rest);
  });
  out.x509SvidMismatch = await outcome(() => parseCsr(input.mismatchedCsrPem, id).then(() => "accepted"));

  const key = await importJwtSigningKey(input.jwtSigningKeyPem);
  const bundleDoc = buildSpiffeBundle({
    x509AuthoritiesPem: [input.root.certificatePem, input.intermediate.certificatePem],
    jwtAuthorities: [{ kid: key.kid, publicJwk: key.publicJwk }],
    sequence: 7,
    refreshHintSeconds: 300,
  });
  out.bundle = bundleDoc;
  const bundles = trustBundleSet([parseSpiffeBundle("strait.local", bundleDoc)]);
  const { token } = await mintJwtSvid({ spiffeId: id, audience: ["spiffe://strait.local/ns/db/sa/pg"], key, clock, ttlSeconds: 300 });
  out.jwtSvid = await outcome(async () => {
    const v = await validateJwtSvid(token, { audience: "spiffe://strait.local/ns/db/sa/pg", bundles, clock });
    return { spiffeId: v.spiffeId.toString(), audience: v.audience, expiresAt: v.expiresAt.toISOString() };
  });
  out.jwtSvidWrongAudience = await outcome(() => validateJwtSvid(token, { audience: "spiffe://strait.local/ns/other/sa/x", bundles, clock }).then(() => "accepted"));
  clock.advance(3600_000);
  out.jwtSvidExpired = await outcome(() => validateJwtSvid(token, { audience: "spiffe://strait.local/ns/db/sa/pg", bundles, clock }).then(() => "accepted"));

  const config: Record<string, unknown> = {};
  for (const [name, text] of Object.entries(input.fixtures).sort(([a], [b]) => a.localeCompare(b))) {
    config[name] = await outcome(() => {
      const results = parseDocuments(text, name).map((d) => validateResource(d));
      const resources = results.flatMap((r): AnyResource[] => (r.ok ? [r.resource] : []));
      return { results, findings: analyze(resources) };
    });
  }
  out.config = config;
  return out;
}
