import { test } from "node:test";
import assert from "node:assert/strict";
import { UsageError } from "../../src/cli/cli-errors.ts";
import { renderDiff } from "../../src/cli/diff-render.ts";
import { parseDurationSeconds } from "../../src/cli/duration.ts";
import { formatAge, renderTable } from "../../src/cli/output.ts";

test("parseDurationSeconds: --ttl spellings", () => {
  const ok: [string, number][] = [["90s", 90], ["10m", 600], ["24h", 86_400], ["7d", 604_800], ["1h30m", 5_400], ["3600", 3_600]];
  for (const [text, seconds] of ok) assert.equal(parseDurationSeconds(text, "--ttl"), seconds, text);
  for (const bad of ["", "ten", "10x", "1.5h", "-5m", "0", "0s", "h", "5 m"]) {
    assert.throws(() => parseDurationSeconds(bad, "--ttl"), (err: unknown) => err instanceof UsageError && err.field === "--ttl" && err.message.startsWith("--ttl: "), bad);
  }
});

test("renderTable pads columns kubectl-style and marks empty cells <none>", () => {
  assert.equal(
    renderTable(["NAME", "HOSTS", "AGE"], [["reviews", "reviews,ratings", "5s"], ["a", "", "12m"]]),
    "NAME      HOSTS             AGE\nreviews   reviews,ratings   5s\na         <none>            12m\n",
  );
});

test("formatAge uses kubectl's units", () => {
  const now = Date.parse("2026-01-10T00:00:00Z");
  const cases: [number, string][] = [[0, "0s"], [119_000, "119s"], [120_000, "2m"], [7_199_000, "119m"], [7_200_000, "2h"], [47 * 3_600_000, "47h"], [48 * 3_600_000, "2d"], [800 * 86_400_000, "2y"]];
  for (const [ago, text] of cases) assert.equal(formatAge(now - ago, now), text, `${ago}ms`);
  assert.equal(formatAge("not a date", now), "");
});

test("renderDiff: replace, add and remove entries, objects as marked YAML blocks", () => {
  assert.deepEqual(
    renderDiff(
      [
        { path: "spec.http[0].route[0].weight", op: "replace", before: 80, after: 90 },
        { path: "spec.gateways", op: "add", after: ["mesh"] },
        { path: "metadata.labels.app", op: "remove", before: "reviews" },
        { path: "spec.subsets", op: "add", after: [] },
      ],
      "",
    ),
    ["~ spec.http[0].route[0].weight: 80 -> 90", "+ spec.gateways:", "+   - mesh", '- metadata.labels.app: "reviews"', "+ spec.subsets: []"],
  );
  assert.deepEqual(renderDiff(undefined), []);
  assert.deepEqual(renderDiff("a\nb", "  "), ["  a", "  b"]);
});
