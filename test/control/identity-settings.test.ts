// Operator settings of the issuer: a bad value is a 503-category error naming the
// variable (the operator's problem), never a 4xx blaming the client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { UnavailableError } from "../../src/core/errors.ts";
import type { ControlEnv } from "../../src/control/env.ts";
import { jwtSvidTtlSeconds, k8sClustersOf, maxSvidTtlSeconds, trustDomainOf, x509SvidTtlSeconds } from "../../src/control/identity/settings.ts";

const env = (vars: Partial<ControlEnv>): ControlEnv => vars as ControlEnv;

function unavailableNaming(name: string) {
  return (e: unknown) => e instanceof UnavailableError && e.category === "unavailable" && e.message.startsWith(`${name}:`);
}

test("TRUST_DOMAIN defaults to strait.local and is validated (checklist 4-6)", () => {
  assert.equal(trustDomainOf(env({})), "strait.local");
  assert.equal(trustDomainOf(env({ TRUST_DOMAIN: "prod.example.org" })), "prod.example.org");
  for (const bad of ["Bad Domain", "td:8080", "user@td", "spiffe://td"]) assert.throws(() => trustDomainOf(env({ TRUST_DOMAIN: bad })), unavailableNaming("TRUST_DOMAIN"), bad);
});

test("SVID TTLs: defaults 3600 / 300, bounded, and the longer one bounds CA publication", () => {
  assert.equal(x509SvidTtlSeconds(env({})), 3600);
  assert.equal(jwtSvidTtlSeconds(env({})), 300);
  assert.equal(maxSvidTtlSeconds(env({ X509_SVID_TTL_SECONDS: "60", JWT_SVID_TTL_SECONDS: "120" })), 120);
  assert.throws(() => jwtSvidTtlSeconds(env({ JWT_SVID_TTL_SECONDS: "3601" })), unavailableNaming("JWT_SVID_TTL_SECONDS"));
  assert.throws(() => x509SvidTtlSeconds(env({ X509_SVID_TTL_SECONDS: "1h" })), unavailableNaming("X509_SVID_TTL_SECONDS"));
  assert.throws(() => x509SvidTtlSeconds(env({ X509_SVID_TTL_SECONDS: "0" })), unavailableNaming("X509_SVID_TTL_SECONDS"));
});

test("K8S_CLUSTERS: empty means no clusters; malformed JSON is the operator's error", () => {
  assert.deepEqual(k8sClustersOf(env({})), {});
  assert.throws(() => k8sClustersOf(env({ K8S_CLUSTERS: "{nope" })), unavailableNaming("K8S_CLUSTERS"));
});
