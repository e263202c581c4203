import { test } from "node:test";
import assert from "node:assert/strict";
import { findKind, findKindByPlural, KINDS, kindInfo, resolveKindName, resourceKey, storageApiVersion } from "../../../src/core/config/resource.ts";

test("kinds, groups and versions are Istio's (semantics §0)", () => {
  assert.deepEqual(
    KINDS.map((k) => `${k.group}/${k.versions.join(",")} ${k.kind} ${k.plural} ${k.shortNames.join(",")}`),
    [
      "networking.istio.io/v1,v1beta1,v1alpha3 Gateway gateways gw",
      "networking.istio.io/v1,v1beta1,v1alpha3 VirtualService virtualservices vs",
      "networking.istio.io/v1,v1beta1,v1alpha3 DestinationRule destinationrules dr",
      "networking.istio.io/v1,v1beta1,v1alpha3 ServiceEntry serviceentries se",
      "networking.istio.io/v1,v1beta1,v1alpha3 WorkloadEntry workloadentries we",
      "networking.istio.io/v1,v1beta1,v1alpha3 Sidecar sidecars ",
      "security.istio.io/v1,v1beta1 AuthorizationPolicy authorizationpolicies ap",
      "security.istio.io/v1,v1beta1 PeerAuthentication peerauthentications pa",
      "security.istio.io/v1,v1beta1 RequestAuthentication requestauthentications ra",
      "gateway.strait.dev/v1alpha1 RateLimitPolicy ratelimitpolicies rlp",
    ],
  );
  assert.equal(storageApiVersion("AuthorizationPolicy"), "security.istio.io/v1");
  assert.equal(kindInfo("ServiceEntry").plural, "serviceentries");
  assert.equal(kindInfo("Sidecar").plural, "sidecars");
  assert.throws(() => kindInfo("EnvoyFilter" as never), TypeError);
});

test("lookups by apiVersion, plural and CLI name", () => {
  assert.equal(findKind("networking.istio.io/v1alpha3", "VirtualService")?.kind, "VirtualService");
  assert.equal(findKind("security.istio.io/v1beta1", "PeerAuthentication")?.kind, "PeerAuthentication");
  assert.equal(findKind("security.istio.io/v1alpha3", "PeerAuthentication"), undefined);
  assert.equal(findKind("networking.istio.io/v1", "AuthorizationPolicy"), undefined);
  assert.equal(findKind("VirtualService", "VirtualService"), undefined);
  assert.equal(findKindByPlural("networking.istio.io", "v1beta1", "destinationrules")?.kind, "DestinationRule");
  assert.equal(findKindByPlural("networking.istio.io", "v2", "destinationrules"), undefined);
  for (const name of ["vs", "virtualservice", "virtualservices", "VirtualService", "VIRTUALSERVICE"]) assert.equal(resolveKindName(name)?.kind, "VirtualService", name);
  assert.equal(resolveKindName("ap")?.kind, "AuthorizationPolicy");
  assert.equal(resolveKindName("pods"), undefined);
  assert.equal(resourceKey({ kind: "Gateway", metadata: { namespace: "default", name: "gw" } }), "Gateway/default/gw");
});
