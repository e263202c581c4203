import { test } from "node:test";
import assert from "node:assert/strict";
import { composePeerAuthentication, resolvePeerAuthentication } from "../../../src/core/policy/index.ts";
import { peerAuthn } from "./policy-fixtures.ts";

const W = "foo/httpbin";
const mesh = (mode: "STRICT" | "PERMISSIVE" | "DISABLE" | "UNSET", name = "default") => peerAuthn({ mtls: { mode } }, { namespace: "istio-system", name, scope: "mesh" });
const ns = (mode: "STRICT" | "PERMISSIVE" | "DISABLE" | "UNSET", name = "default") => peerAuthn({ mtls: { mode } }, { name, scope: "namespace" });
const wl = (spec: Parameters<typeof peerAuthn>[0], name = "httpbin") => peerAuthn({ selector: { matchLabels: { app: "httpbin" } }, ...spec }, { name, scope: "workload" });

const cases: { name: string; policies: ReturnType<typeof peerAuthn>[]; port?: number; expect: string; defaultMode?: "PERMISSIVE" }[] = [
  { name: "no policy: Strait defaults to STRICT", policies: [], expect: "STRICT" },
  { name: "no policy with Istio's default", policies: [], defaultMode: "PERMISSIVE", expect: "PERMISSIVE" },
  { name: "mesh PERMISSIVE", policies: [mesh("PERMISSIVE")], expect: "PERMISSIVE" },
  { name: "namespace beats mesh", policies: [mesh("PERMISSIVE"), ns("STRICT")], expect: "STRICT" },
  { name: "workload beats namespace", policies: [mesh("STRICT"), ns("STRICT"), wl({ mtls: { mode: "DISABLE" } })], expect: "DISABLE" },
  { name: "UNSET namespace inherits mesh", policies: [mesh("PERMISSIVE"), ns("UNSET")], expect: "PERMISSIVE" },
  { name: "workload without mtls inherits namespace", policies: [ns("PERMISSIVE"), wl({ portLevelMtls: { "80": { mode: "STRICT" } } })], expect: "PERMISSIVE" },
  { name: "UNSET everywhere falls to the default", policies: [mesh("UNSET"), ns("UNSET"), wl({ mtls: { mode: "UNSET" } })], defaultMode: "PERMISSIVE", expect: "PERMISSIVE" },
  { name: "portLevelMtls overrides on its port", policies: [wl({ mtls: { mode: "STRICT" }, portLevelMtls: { "80": { mode: "DISABLE" } } })], port: 80, expect: "DISABLE" },
  { name: "portLevelMtls leaves other ports", policies: [wl({ mtls: { mode: "STRICT" }, portLevelMtls: { "80": { mode: "DISABLE" } } })], port: 8080, expect: "STRICT" },
  { name: "portLevelMtls UNSET inherits the workload mode", policies: [ns("DISABLE"), wl({ portLevelMtls: { "80": { mode: "UNSET" } } })], port: 80, expect: "DISABLE" },
  { name: "oldest policy of a scope wins (snapshot order)", policies: [ns("PERMISSIVE", "older"), ns("STRICT", "newer")], expect: "PERMISSIVE" },
  { name: "policies for other workloads are ignored", policies: [peerAuthn({ mtls: { mode: "DISABLE" } }, { scope: "namespace", appliesTo: ["foo/other"] })], expect: "STRICT" },
];

for (const c of cases) {
  test(`peer authentication: ${c.name}`, () => {
    const mode = resolvePeerAuthentication(c.policies, W, c.port ?? 8080, c.defaultMode === undefined ? undefined : { defaultMode: c.defaultMode });
    assert.equal(mode, c.expect);
  });
}

test("composePeerAuthentication names the policies used per scope", () => {
  const composed = composePeerAuthentication([mesh("STRICT"), ns("PERMISSIVE"), wl({ portLevelMtls: { "80": { mode: "DISABLE" } } })], W);
  assert.equal(composed.mode, "PERMISSIVE");
  assert.deepEqual([...composed.perPort], [[80, "DISABLE"]]);
  assert.deepEqual(composed.sources, { mesh: "istio-system/default", namespace: "foo/default", workload: "foo/httpbin" });
});
