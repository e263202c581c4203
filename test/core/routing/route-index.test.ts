/**
 * The route index (static exact map, prefix radix tree, scanned entries)
 * against the plain definition of Istio's first-match order: every entry
 * tested in order, the first one whose uri and conditions match wins.
 * Randomized over many small configs whose paths share starts, so edge
 * splits, prefixes of prefixes, `?` in paths and keys, ignoreUriCase and
 * conditional entries all meet; the seed is fixed, so a failure reproduces.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { HTTPMatchRequest } from "../../../src/core/config/kinds/virtual-service.ts";
import { compileMatch, uriKeyMatches, type CompiledMatch } from "../../../src/core/routing/request-match.ts";
import { RouteIndex } from "../../../src/core/routing/route-index.ts";
import { RequestView } from "../../../src/core/routing/request-view.ts";
import type { RequestFacts } from "../../../src/core/routing/types.ts";

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ["/", "a", "b", "A", "?", "é", "/a", "/ab"];

function word(r: () => number, max: number): string {
  let s = "";
  const n = Math.floor(r() * (max + 1));
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)]!;
  return s;
}

function randomEntry(r: () => number): HTTPMatchRequest | undefined {
  const roll = r();
  if (roll < 0.05) return undefined;
  const m: HTTPMatchRequest = {};
  const uri = r();
  if (uri < 0.4) m.uri = { exact: `/${word(r, 3)}` };
  else if (uri < 0.85) m.uri = { prefix: r() < 0.1 ? "" : `/${word(r, 3)}` };
  else if (uri < 0.9) m.uri = { regex: "/a.*" };
  if (r() < 0.2) m.ignoreUriCase = true;
  if (r() < 0.2) m.headers = { "x-v": { exact: "1" } };
  if (r() < 0.05) m.method = { exact: "POST" };
  return m;
}

interface Config {
  entries: { match: CompiledMatch; ordinal: number }[];
  index: RouteIndex<number>;
}

function randomConfig(r: () => number): Config {
  const index = new RouteIndex<number>();
  const entries: Config["entries"] = [];
  const n = 1 + Math.floor(r() * 14);
  for (let i = 0; i < n; i++) {
    const m = randomEntry(r);
    const match = compileMatch(m, `spec.http[${i}]`);
    index.add(match, i);
    entries.push({ match, ordinal: i });
  }
  return { entries, index };
}

/** Istio's definition: the first entry in order whose uri and every other condition match. */
function firstMatch(entries: Config["entries"], facts: RequestFacts): number | undefined {
  const view = new RequestView(facts);
  for (const e of entries) if (uriKeyMatches(e.match.uriKey, view) && e.match.conditions.every((c) => c(view))) return e.ordinal;
  return undefined;
}

function randomFacts(r: () => number): RequestFacts {
  const headers = new Map<string, string>();
  if (r() < 0.5) headers.set("x-v", "1");
  const path = r() < 0.05 ? "" : `/${word(r, 5)}`;
  return { method: r() < 0.2 ? "POST" : "GET", scheme: "http", authority: "a.example", path, port: 80, headers };
}

test("route index: first match equals an in-order scan over 2,000 random configs", () => {
  const r = rng(7);
  let compared = 0;
  let matched = 0;
  for (let c = 0; c < 2000; c++) {
    const config = randomConfig(r);
    for (let q = 0; q < 30; q++) {
      const facts = randomFacts(r);
      const want = firstMatch(config.entries, facts);
      const got = config.index.lookup(facts)?.value;
      assert.equal(got, want, `config ${c}: ${JSON.stringify(config.entries.map((e) => e.match.uriKey))} path ${JSON.stringify(facts.path)} headers ${JSON.stringify([...facts.headers])}`);
      // With a view given (planRequest's way) the answer is the same.
      assert.equal(config.index.lookup(facts, new RequestView(facts))?.value, want);
      compared++;
      if (want !== undefined) matched++;
    }
  }
  // The random mix exercises both outcomes, not just misses.
  assert.ok(matched > compared / 4 && matched < compared, `matched ${matched} of ${compared}`);
});

test("route index: entries added after a lookup are seen by the next lookup", () => {
  const index = new RouteIndex<number>();
  index.add(compileMatch({ uri: { exact: "/a" } }, "m0"), 0);
  const facts: RequestFacts = { method: "GET", scheme: "http", authority: "h", path: "/b/c", port: 80, headers: new Map() };
  assert.equal(index.lookup(facts), undefined);
  index.add(compileMatch({ uri: { prefix: "/b" } }, "m1"), 1);
  index.add(compileMatch({ uri: { prefix: "/b/" } }, "m2"), 2);
  assert.equal(index.lookup(facts)?.value, 1);
  assert.equal(index.lookup({ ...facts, path: "/a" })?.value, 0);
});
