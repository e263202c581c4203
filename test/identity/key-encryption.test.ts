import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createDecipheriv, hkdfSync } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { startModuleWorker } from "../support/workerd-module.ts";
import { CaUnavailableError } from "../../src/identity/errors.ts";
import { openPrivateKey, sealPrivateKey } from "../../src/identity/key-encryption.ts";
import { projectRoot } from "../support/control-worker.ts";

const run = promisify(execFile);
const KEK = "correct horse battery staple 0123456789";

let pem: string;

function expectUnavailable(fragment: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof CaUnavailableError, `expected CaUnavailableError, got ${String(err)}`);
    assert.equal(err.category, "unavailable");
    assert.ok(err.message.includes(fragment), `${err.message} should include ${fragment}`);
    return true;
  };
}

before(async () => {
  ({ stdout: pem } = await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]));
});

describe("sealing private keys with CA_KEK", () => {
  test("round trip: the opened PEM is byte-identical and openssl still reads it", async () => {
    const sealed = await sealPrivateKey(pem, KEK);
    const opened = await openPrivateKey(sealed, KEK);
    assert.equal(opened, pem);
    const { stdout } = await run("sh", ["-c", `printf '%s' "$PEM" | openssl pkey -noout -text`], { env: { ...process.env, PEM: opened } });
    assert.match(stdout, /prime256v1/);
  });

  test("the sealed form is v1.<salt>.<iv>.<ciphertext>, reveals nothing of the key, and differs on every seal", async () => {
    const a = await sealPrivateKey(pem, KEK);
    const b = await sealPrivateKey(pem, KEK);
    assert.match(a, /^v1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    assert.notEqual(a, b);
    const body = pem.split("\n")[1] ?? "";
    assert.ok(body.length > 20 && !a.includes(body));
    assert.ok(!a.includes("PRIVATE KEY"));
  });

  test("the documented format decrypts with Node's own HKDF-SHA-256 and AES-256-GCM", async () => {
    const [, salt, iv, ct] = (await sealPrivateKey(pem, KEK)).split(".") as [string, string, string, string];
    const key = Buffer.from(hkdfSync("sha256", KEK, Buffer.from(salt, "base64url"), "strait private-key seal v1", 32));
    const data = Buffer.from(ct, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
    decipher.setAAD(Buffer.from("strait-sealed-key:v1"));
    decipher.setAuthTag(data.subarray(data.length - 16));
    const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString();
    assert.equal(plain, pem);
  });

  test("a wrong KEK cannot open the key", async () => {
    const sealed = await sealPrivateKey(pem, KEK);
    await assert.rejects(openPrivateKey(sealed, `${KEK}!`), expectUnavailable("CA_KEK is wrong"));
  });

  test("tampering with any part is detected", async () => {
    const sealed = await sealPrivateKey(pem, KEK);
    const parts = sealed.split(".");
    for (const i of [1, 2, 3]) {
      const p = [...parts];
      const bytes = Buffer.from(p[i] ?? "", "base64url");
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      p[i] = bytes.toString("base64url");
      await assert.rejects(openPrivateKey(p.join("."), KEK), expectUnavailable("cannot be opened"), `part ${i}`);
    }
    await assert.rejects(openPrivateKey(["v2", ...parts.slice(1)].join("."), KEK), expectUnavailable("v1 format"));
    await assert.rejects(openPrivateKey(parts.slice(0, 3).join("."), KEK), expectUnavailable("v1 format"));
    await assert.rejects(openPrivateKey(`v1.${parts[1]}.AAAA.${parts[3]}`, KEK), expectUnavailable("malformed"));
    await assert.rejects(openPrivateKey(`v1.${parts[1]}.${parts[2]}.***`, KEK), expectUnavailable("malformed"));
    await assert.rejects(openPrivateKey(pem, KEK), expectUnavailable("v1 format"));
  });

  test("a missing or short KEK is an operator mistake: CaUnavailableError naming CA_KEK", async () => {
    const names = (err: unknown) => expectUnavailable("CA_KEK must be set")(err) && (err as CaUnavailableError).field === "CA_KEK";
    await assert.rejects(sealPrivateKey(pem, ""), names);
    await assert.rejects(sealPrivateKey(pem, "short"), names);
    await assert.rejects(sealPrivateKey(pem, undefined as unknown as string), names);
    await assert.rejects(openPrivateKey(await sealPrivateKey(pem, KEK), "short"), names);
    await assert.rejects(sealPrivateKey("", KEK), TypeError);
  });
});

describe("sealing in real workerd (no nodejs_compat)", () => {
  test("a key sealed in workerd opens in Node and vice versa; a wrong KEK fails there too", async () => {
    const worker = await startModuleWorker(`
      import { openPrivateKey, sealPrivateKey } from ${JSON.stringify(join(projectRoot, "src/identity/key-encryption.ts"))};
      export default {
        async fetch(request) {
          const url = new URL(request.url);
          const body = await request.text();
          try {
            if (url.pathname === "/seal") return new Response(await sealPrivateKey(body, url.searchParams.get("kek")));
            return new Response(await openPrivateKey(body, url.searchParams.get("kek")));
          } catch (e) {
            return Response.json({ name: e.name, code: e.code }, { status: 503 });
          }
        },
      };`);
    try {
      const kek = encodeURIComponent(KEK);
      const sealedInWorkerd = await (await worker.fetch(`/seal?kek=${kek}`, { method: "POST", body: pem })).text();
      assert.match(sealedInWorkerd, /^v1\./);
      assert.equal(await openPrivateKey(sealedInWorkerd, KEK), pem);
      const opened = await worker.fetch(`/open?kek=${kek}`, { method: "POST", body: await sealPrivateKey(pem, KEK) });
      assert.equal(await opened.text(), pem);
      const wrong = await worker.fetch(`/open?kek=${kek}x`, { method: "POST", body: sealedInWorkerd });
      assert.equal(wrong.status, 503);
      assert.deepEqual(await wrong.json(), { name: "CaUnavailableError", code: "ERR_CA_UNAVAILABLE" });
    } finally {
      await worker.dispose();
    }
  });
});
