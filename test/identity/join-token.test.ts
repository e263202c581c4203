import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { generateJoinToken, hashJoinToken, isWellFormedJoinToken } from "../../src/identity/join-token.ts";

const run = promisify(execFile);

/** SHA-256 of a string as the openssl CLI computes it. */
async function opensslSha256(text: string): Promise<string> {
  const { stdout } = await run("sh", ["-c", `printf '%s' "$T" | openssl dgst -sha256 -r`], { env: { ...process.env, T: text } });
  return stdout.split(" ")[0] ?? "";
}

describe("join tokens", () => {
  test("a token is 32 random bytes, base64url without padding (43 characters)", () => {
    const token = generateJoinToken();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token, "base64url").length, 32);
    assert.equal(Buffer.from(token, "base64url").toString("base64url"), token);
  });

  test("tokens do not repeat", () => {
    const seen = new Set(Array.from({ length: 2000 }, () => generateJoinToken()));
    assert.equal(seen.size, 2000);
  });

  test("hashJoinToken is the lowercase hex SHA-256 openssl computes", async () => {
    const token = generateJoinToken();
    const hash = await hashJoinToken(token);
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(hash, await opensslSha256(token));
    assert.equal(await hashJoinToken(token), hash, "deterministic");
    assert.notEqual(await hashJoinToken(generateJoinToken()), hash);
  });

  test("the hash is over UTF-8 bytes, so any presented string can be looked up", async () => {
    assert.equal(await hashJoinToken("päss wörd"), await opensslSha256("päss wörd"));
    assert.equal(await hashJoinToken(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  test("isWellFormedJoinToken accepts generated tokens and refuses anything else", () => {
    assert.equal(isWellFormedJoinToken(generateJoinToken()), true);
    for (const bad of ["", "short", `${generateJoinToken()}x`, `${generateJoinToken().slice(0, 42)}=`, `${generateJoinToken().slice(0, 42)}+`, 42, null, undefined]) {
      assert.equal(isWellFormedJoinToken(bad), false, String(bad));
    }
  });
});
