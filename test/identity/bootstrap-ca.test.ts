// scripts/bootstrap-ca.ts: files, modes, idempotence, .dev.vars as wrangler reads it,
// rotation, and the secrets working in the real control worker.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { unstable_startWorker } from "wrangler";
import { ManualClock } from "../../src/core/clock.ts";
import { ValidationError } from "../../src/core/errors.ts";
import { caTrustDomain, loadSigningCa, verifyIssuedBy } from "../../src/identity/ca.ts";
import { InvalidSpiffeIdError } from "../../src/identity/errors.ts";
import { importJwtSigningKey } from "../../src/identity/jwt-key.ts";
import { bootstrapCa, devVarsLine, STAGE_ROUTE, ACTIVATE_ROUTE } from "../../scripts/bootstrap-ca.ts";
import { MIN_STAGED_MS } from "../../src/control/identity/ca-rotation.ts";
import { projectRoot, startControlWorker } from "../support/control-worker.ts";

const run = promisify(execFile);
const SECRETS = ["ADMIN_TOKEN", "CA_ROOT_CERT", "CA_INTERMEDIATE_CERT", "CA_INTERMEDIATE_KEY", "JWT_SIGNING_KEY", "CA_KEK"] as const;
const FILES: Record<(typeof SECRETS)[number], string> = {
  ADMIN_TOKEN: "admin-token",
  CA_ROOT_CERT: "root.pem",
  CA_INTERMEDIATE_CERT: "intermediate.pem",
  CA_INTERMEDIATE_KEY: "intermediate-key.pem",
  JWT_SIGNING_KEY: "jwt-signing-key.pem",
  CA_KEK: "ca-kek",
};

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "strait-bootstrap-"));
  temps.push(d);
  return d;
}
after(() => Promise.all(temps.map((d) => rm(d, { recursive: true, force: true }))));

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function secretsFrom(caDir: string): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(SECRETS.map(async (s) => [s, await readFile(join(caDir, FILES[s]), "utf8")] as const)));
}

describe("first run", () => {
  let cwd: string;
  let caDir: string;
  let report: string[];
  before(async () => {
    cwd = await tempDir();
    caDir = join(cwd, ".strait/ca");
    report = (await bootstrapCa({ cwd, trustDomain: "example.org" })).report;
  });

  test("writes the root, intermediate and JWT key; keys and secrets are 0600", async () => {
    for (const f of ["root-key.pem", "intermediate-key.pem", "jwt-signing-key.pem", "admin-token", "ca-kek"]) {
      assert.equal(await mode(join(caDir, f)), 0o600, f);
    }
    assert.equal(await mode(join(cwd, ".dev.vars")), 0o600);
    const root = { certificatePem: await readFile(join(caDir, "root.pem"), "utf8"), privateKeyPem: await readFile(join(caDir, "root-key.pem"), "utf8") };
    const intermediate = { certificatePem: await readFile(join(caDir, "intermediate.pem"), "utf8"), privateKeyPem: await readFile(join(caDir, "intermediate-key.pem"), "utf8") };
    assert.equal(caTrustDomain((await loadSigningCa(root)).certificate), "example.org");
    assert.equal(caTrustDomain((await loadSigningCa(intermediate)).certificate), "example.org");
    assert.equal(await verifyIssuedBy(intermediate.certificatePem, root.certificatePem), true);
    const { stdout } = await run("openssl", ["verify", "-CAfile", join(caDir, "root.pem"), join(caDir, "intermediate.pem")]);
    assert.match(stdout, /: OK$/m);
    const jwt = await importJwtSigningKey(await readFile(join(caDir, "jwt-signing-key.pem"), "utf8"));
    assert.equal(jwt.alg, "ES256");
    assert.match(await readFile(join(caDir, "admin-token"), "utf8"), /^[A-Za-z0-9_-]{43}$/);
    assert.match(await readFile(join(caDir, "ca-kek"), "utf8"), /^[A-Za-z0-9_-]{43}$/);
  });

  test("prints a wrangler secret put line per secret naming its file, never a secret value", async () => {
    const secrets = await secretsFrom(caDir);
    for (const name of SECRETS) {
      assert.ok(report.includes(`  npx wrangler secret put ${name} --env control < .strait/ca/${FILES[name]}`), name);
    }
    const text = report.join("\n");
    assert.ok(!text.includes(secrets.ADMIN_TOKEN as string));
    assert.ok(!text.includes(secrets.CA_KEK as string));
    assert.doesNotMatch(text, /BEGIN/);
  });

  test(".dev.vars holds each value double-quoted on one line with \\n escapes", async () => {
    const devVars = await readFile(join(cwd, ".dev.vars"), "utf8");
    const secrets = await secretsFrom(caDir);
    for (const name of SECRETS) {
      const line = devVars.split("\n").find((l) => l.startsWith(`${name}=`));
      assert.equal(line, `${name}="${(secrets[name] as string).replaceAll("\n", "\\n")}"`);
    }
  });

  test("wrangler's own .dev.vars loader gives a worker the exact file contents", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "worker.js"), `export default { fetch(req, env) { return Response.json(Object.fromEntries(${JSON.stringify(SECRETS)}.map((k) => [k, env[k]]))); } };\n`);
    await writeFile(join(dir, "wrangler.toml"), 'name = "devvars-probe"\nmain = "worker.js"\ncompatibility_date = "2026-04-01"\n');
    await writeFile(join(dir, ".dev.vars"), await readFile(join(cwd, ".dev.vars"), "utf8"));
    const worker = await unstable_startWorker({
      config: join(dir, "wrangler.toml"),
      dev: { persist: join(dir, ".state"), inspector: false, watch: false, logLevel: "error", server: { hostname: "127.0.0.1", port: 0 } },
    });
    try {
      await worker.ready;
      const res = await fetch(await worker.url);
      assert.deepEqual(await res.json(), await secretsFrom(caDir));
    } finally {
      await worker.dispose();
    }
  });
});

describe("idempotence and --force", () => {
  test("a second run keeps every file byte for byte and writes nothing", async () => {
    const cwd = await tempDir();
    await bootstrapCa({ cwd });
    const caDir = join(cwd, ".strait/ca");
    const before = { ...(await secretsFrom(caDir)), devVars: await readFile(join(cwd, ".dev.vars"), "utf8") };
    const second = await bootstrapCa({ cwd });
    assert.deepEqual(second.written, []);
    assert.equal(second.kept.length, 8);
    assert.match(second.report[0] ?? "", /already bootstrapped/);
    assert.deepEqual({ ...(await secretsFrom(caDir)), devVars: await readFile(join(cwd, ".dev.vars"), "utf8") }, before);
  });

  test("other .dev.vars lines survive; a missing piece is recreated from the kept root", async () => {
    const cwd = await tempDir();
    await writeFile(join(cwd, ".dev.vars"), 'MY_OWN="keep me"\nADMIN_TOKEN="stale"\n');
    await bootstrapCa({ cwd });
    const caDir = join(cwd, ".strait/ca");
    const devVars = await readFile(join(cwd, ".dev.vars"), "utf8");
    assert.match(devVars, /^MY_OWN="keep me"$/m);
    assert.doesNotMatch(devVars, /stale/);
    assert.equal(devVars.match(/^ADMIN_TOKEN=/gm)?.length, 1);
    const rootBefore = await readFile(join(caDir, "root.pem"), "utf8");
    await rm(join(caDir, "intermediate.pem"));
    await rm(join(caDir, "intermediate-key.pem"));
    const again = await bootstrapCa({ cwd });
    assert.ok(again.written.includes(join(caDir, "intermediate.pem")));
    assert.equal(await readFile(join(caDir, "root.pem"), "utf8"), rootBefore);
    assert.equal(await verifyIssuedBy(await readFile(join(caDir, "intermediate.pem"), "utf8"), rootBefore), true);
    assert.match(await readFile(join(cwd, ".dev.vars"), "utf8"), /^MY_OWN="keep me"$/m);
  });

  test("--force replaces the CA and the secrets", async () => {
    const cwd = await tempDir();
    await bootstrapCa({ cwd });
    const caDir = join(cwd, ".strait/ca");
    const first = await secretsFrom(caDir);
    const forced = await bootstrapCa({ cwd, force: true });
    const second = await secretsFrom(caDir);
    for (const name of SECRETS) assert.notEqual(second[name], first[name], name);
    assert.equal(forced.kept.length, 0);
  });

  test("refusals: another trust domain, half a key pair, a bad trust domain, --force with --rotate", async () => {
    const cwd = await tempDir();
    await bootstrapCa({ cwd, trustDomain: "one.example" });
    await assert.rejects(bootstrapCa({ cwd, trustDomain: "two.example" }), (err: unknown) => err instanceof ValidationError && err.field === "--trust-domain");
    await rm(join(cwd, ".strait/ca/root-key.pem"));
    await assert.rejects(bootstrapCa({ cwd, trustDomain: "one.example" }), (err: unknown) => err instanceof ValidationError && /must both exist/.test(err.message));
    await assert.rejects(bootstrapCa({ cwd: await tempDir(), trustDomain: "Bad Domain" }), InvalidSpiffeIdError);
    await assert.rejects(bootstrapCa({ cwd, force: true, rotate: true }), ValidationError);
    await assert.rejects(bootstrapCa({ cwd: await tempDir(), rotate: true }), (err: unknown) => err instanceof ValidationError && err.field === "--rotate");
  });

  test("devVarsLine refuses characters dotenv would mangle", () => {
    assert.equal(devVarsLine("A", "x\ny\n"), 'A="x\\ny\\n"');
    assert.throws(() => devVarsLine("A", 'say "hi"'), TypeError);
    assert.throws(() => devVarsLine("A", "$HOME"), TypeError);
  });
});

describe("--rotate", () => {
  test("writes intermediate-<timestamp>.pem signed by the existing root and prints the stage command", async () => {
    const cwd = await tempDir();
    await bootstrapCa({ cwd });
    const caDir = join(cwd, ".strait/ca");
    const before = await secretsFrom(caDir);
    const clock = new ManualClock(Date.now());
    const result = await bootstrapCa({ cwd, rotate: true, clock });
    const stamp = new Date(clock.now()).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    assert.deepEqual(result.rotated, {
      certificate: join(caDir, `intermediate-${stamp}.pem`),
      privateKey: join(caDir, `intermediate-${stamp}-key.pem`),
      stageRequest: join(caDir, `intermediate-${stamp}.stage.json`),
    });
    assert.equal(await mode(join(caDir, `intermediate-${stamp}-key.pem`)), 0o600);
    assert.equal(await mode(join(caDir, `intermediate-${stamp}.stage.json`)), 0o600);
    const { stdout } = await run("openssl", ["verify", "-CAfile", join(caDir, "root.pem"), join(caDir, `intermediate-${stamp}.pem`)]);
    assert.match(stdout, /: OK$/m);
    assert.deepEqual(await secretsFrom(caDir), before);
    assert.ok(result.report.some((l) => l.includes(STAGE_ROUTE) && l.includes(`@.strait/ca/intermediate-${stamp}.stage.json`)));
    // Checklist 97: the activation step says how long the staged key must be published first.
    assert.ok(result.report.some((l) => l.includes(`at least ${Math.ceil(MIN_STAGED_MS / 60_000)} minutes after staging`)));
    assert.ok(MIN_STAGED_MS >= 3 * 300_000, "3x the 300 s refresh hint");
    assert.ok(result.report.some((l) => l.includes(ACTIVATE_ROUTE) && l.includes('{"generation": <N>}')));
    assert.doesNotMatch(result.report.join("\n"), /BEGIN/);
  });
});

describe("command line", () => {
  test("node --import tsx scripts/bootstrap-ca.ts with --out and --trust-domain, then a usage error", async () => {
    const cwd = await tempDir();
    const script = join(projectRoot, "scripts/bootstrap-ca.ts");
    const tsx = join(projectRoot, "node_modules/tsx/dist/esm/index.mjs");
    const { stdout } = await run(process.execPath, ["--import", tsx, script, "--trust-domain", "cli.example", "--out", "ca"], { cwd });
    assert.match(stdout, /^Strait CA for cli\.example in ca; local secrets in \.dev\.vars\.$/m);
    assert.match(stdout, /^ {2}npx wrangler secret put CA_INTERMEDIATE_KEY --env control < ca\/intermediate-key\.pem$/m);
    assert.equal(await mode(join(cwd, "ca/intermediate-key.pem")), 0o600);
    await assert.rejects(run(process.execPath, ["--import", tsx, script, "--bogus"], { cwd }), (err: unknown) => {
      const e = err as { code?: number; stderr?: string };
      return e.code === 2 && /Unknown option '--bogus'/.test(e.stderr ?? "");
    });
  });
});

describe("the control worker accepts what bootstrap wrote", () => {
  test("bundle served from the bootstrap secrets; a node attests with an openssl CSR; a rotated intermediate stages through the API", async () => {
    const cwd = await tempDir();
    await bootstrapCa({ cwd });
    const caDir = join(cwd, ".strait/ca");
    const secrets = await secretsFrom(caDir);
    const worker = await startControlWorker({ vars: secrets });
    try {
      const bundle = await worker.fetch("/v1/identity/bundle.pem");
      assert.equal(bundle.status, 200);
      const pem = await bundle.text();
      const rootBase64 = (secrets.CA_ROOT_CERT as string).replace(/-----[^-]+-----|\s/g, "");
      const intermediateBase64 = (secrets.CA_INTERMEDIATE_CERT as string).replace(/-----[^-]+-----|\s/g, "");
      assert.ok(pem.replace(/\s/g, "").includes(rootBase64), "bundle.pem has the bootstrap root");
      assert.ok(pem.replace(/\s/g, "").includes(intermediateBase64), "bundle.pem has the bootstrap intermediate");

      // The X.509 issuer runs in workerd: attest a node with an openssl CSR and verify what comes back.
      const admin = { authorization: `Bearer ${secrets.ADMIN_TOKEN}`, "content-type": "application/json" };
      const mint = async (node: string): Promise<string> => {
        const res = await worker.fetch("/v1/identity/join-tokens", { method: "POST", headers: admin, body: JSON.stringify({ cluster: "c1", node }) });
        assert.equal(res.status, 201, await res.clone().text());
        return ((await res.json()) as { token: string }).token;
      };
      const keyPath = join(cwd, "node.key");
      await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath]);
      const { stdout: csr } = await run("openssl", ["req", "-new", "-key", keyPath, "-subj", "/CN=n1"]);
      const attested = await worker.fetch("/v1/identity/attest", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ csr, joinToken: await mint("n1") }) });
      assert.equal(attested.status, 200, await attested.clone().text());
      const creds = (await attested.json()) as { x509Svid: { chainPem: string; certificatePem: string } };
      const leafPath = join(cwd, "node-leaf.pem");
      await writeFile(leafPath, creds.x509Svid.certificatePem);
      const verified = await run("openssl", ["verify", "-CAfile", join(caDir, "root.pem"), "-untrusted", join(caDir, "intermediate.pem"), "-purpose", "sslclient", leafPath]);
      assert.equal(verified.stdout.trim(), `${leafPath}: OK`);
      const text = (await run("openssl", ["x509", "-in", leafPath, "-noout", "-ext", "subjectAltName"])).stdout;
      assert.match(text, /critical\n\s+URI:spiffe:\/\/strait\.local\/node\/c1\/n1\n/);
      assert.equal(creds.x509Svid.chainPem, creds.x509Svid.certificatePem + secrets.CA_INTERMEDIATE_CERT);

      // A refused key is the client's mistake: 400 naming the csr field, not a 5xx.
      const p384 = join(cwd, "p384.key");
      await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", p384]);
      const { stdout: badCsr } = await run("openssl", ["req", "-new", "-key", p384, "-subj", "/CN=n2"]);
      const refused = await worker.fetch("/v1/identity/attest", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ csr: badCsr, joinToken: await mint("n2") }) });
      assert.equal(refused.status, 400);
      const err = ((await refused.json()) as { error: { code: string; field?: string; message: string } }).error;
      assert.equal(err.code, "ERR_KEY_UNSUPPORTED");
      assert.equal(err.field, "csr");
      assert.match(err.message, /ECDSA P-384/);

      const rotated = await bootstrapCa({ cwd, rotate: true });
      assert.ok(rotated.rotated);
      const staged = await worker.fetch(STAGE_ROUTE, {
        method: "POST",
        headers: { authorization: `Bearer ${secrets.ADMIN_TOKEN}`, "content-type": "application/json" },
        body: await readFile(rotated.rotated.stageRequest, "utf8"),
      });
      assert.equal(staged.status, 201, await staged.clone().text());
      const body = (await staged.json()) as { status?: string };
      assert.equal(body.status, "staged");
    } finally {
      await worker.dispose();
    }
  });
});
