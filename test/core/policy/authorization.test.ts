import { test } from "node:test";
import assert from "node:assert/strict";
import { AUTHZ_CASES, runAuthzCases } from "./authz-cases.ts";

const results = runAuthzCases();

for (const [i, c] of AUTHZ_CASES.entries()) {
  test(`authz: ${c.name}`, () => {
    const r = results[i]!;
    assert.equal(r.allow, c.expect.allow, "allow");
    if (c.expect.policy !== undefined) assert.equal(r.policy, c.expect.policy, "deciding policy");
    if (c.expect.allow === false && c.expect.policy === undefined) assert.equal(r.policy, null, "a default deny names no policy");
    assert.equal(r.audit, c.expect.audit ?? false, "audit");
    assert.equal(r.problems, c.expect.problems ?? 0, "compile problems");
  });
}
