/**
 * Creates the local Strait CA and the control worker's secrets.
 *
 *   node --import tsx scripts/bootstrap-ca.ts [--trust-domain strait.local] [--out .strait/ca] [--force] [--rotate]
 *
 * Writes under `--out`: root.pem, root-key.pem, intermediate.pem,
 * intermediate-key.pem, jwt-signing-key.pem, admin-token, ca-kek (keys and
 * secrets 0600), then `.dev.vars` for `wrangler dev --env control`. Run again,
 * it keeps everything that exists (idempotent); `--force` replaces all of it.
 * `--rotate` keeps the root and writes a new intermediate,
 * `intermediate-<timestamp>.pem`, to stage through the control API.
 * Prints the `wrangler secret put` lines for production, naming files, never values.
 */
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { systemClock, type Clock } from "../src/core/clock.ts";
import { ValidationError } from "../src/core/errors.ts";
import { caTrustDomain, createIntermediateCa, createRootCa, loadSigningCa, verifyIssuedBy, type CaKeyPair } from "../src/identity/ca.ts";
import { generateJwtSigningKeyPem } from "../src/identity/jwt-key.ts";
import { DEFAULT_TRUST_DOMAIN, parseTrustDomain } from "../src/identity/spiffe-id.ts";
import { MIN_STAGED_MS } from "../src/control/identity/ca-rotation.ts";

export interface BootstrapCaOptions {
  trustDomain?: string;
  /** CA directory, relative to `cwd`. Default `.strait/ca`. */
  outDir?: string;
  /** Where `.dev.vars` goes, relative to `cwd`. Default `.dev.vars` (next to wrangler.toml). */
  devVarsPath?: string;
  /** Directory relative paths resolve against and are printed from. Default `process.cwd()`. */
  cwd?: string;
  /** Replace an existing CA, keys and secrets. */
  force?: boolean;
  /** Keep the root; write a new intermediate to stage via the control API. */
  rotate?: boolean;
  clock?: Clock;
}

export interface BootstrapCaResult {
  /** Absolute paths written. */
  written: string[];
  /** Absolute paths that existed and were kept. */
  kept: string[];
  /** For `--rotate`: the new intermediate certificate and key. */
  rotated?: { certificate: string; privateKey: string; stageRequest: string };
  /** Lines for the operator (never secret values). */
  report: string[];
}

const SECRET_FILE_MODE = 0o600;

/** Secret name -> file (under the CA directory) its value comes from. */
export const SECRET_FILES = {
  ADMIN_TOKEN: "admin-token",
  CA_ROOT_CERT: "root.pem",
  CA_INTERMEDIATE_CERT: "intermediate.pem",
  CA_INTERMEDIATE_KEY: "intermediate-key.pem",
  JWT_SIGNING_KEY: "jwt-signing-key.pem",
  CA_KEK: "ca-kek",
} as const;
type SecretName = keyof typeof SECRET_FILES;

/** The control API route that stages a new CA generation (src/control/identity/ca-routes.ts). */
export const STAGE_ROUTE = "/v1/identity/ca/stage";
export const ACTIVATE_ROUTE = "/v1/identity/ca/activate";

function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

async function writeFileWithMode(path: string, text: string, secret: boolean): Promise<void> {
  await writeFile(path, text, secret ? { mode: SECRET_FILE_MODE } : {});
  // `mode` only applies when the file is created; tighten a pre-existing one too.
  if (secret) await chmod(path, SECRET_FILE_MODE);
}

/** `KEY="value"` with newlines as `\n`, the form wrangler's dotenv loader turns back into newlines. */
export function devVarsLine(name: string, value: string): string {
  if (/["\\$`]/.test(value)) throw new TypeError(`${name}: value contains a character .dev.vars cannot carry unescaped`);
  return `${name}="${value.replace(/\r?\n/g, "\\n")}"`;
}

/** Replaces our keys in an existing `.dev.vars`, keeping every other line as it was. */
function mergeDevVars(existing: string | undefined, values: Record<SecretName, string>): string {
  const ours = new Set(Object.keys(values));
  const kept = (existing ?? "")
    .split("\n")
    .filter((line) => {
      const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line);
      return m === null || !ours.has(m[1] as string);
    })
    .join("\n")
    .replace(/\n+$/, "");
  const lines = (Object.keys(values) as SecretName[]).map((k) => devVarsLine(k, values[k]));
  const header = existing === undefined ? "# Written by scripts/bootstrap-ca.ts for `wrangler dev --env control`. Do not commit.\n" : "";
  return `${header}${kept === "" ? "" : `${kept}\n`}${lines.join("\n")}\n`;
}

function compactTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * Creates (or keeps) the CA and secrets; see the file comment.
 * @throws ValidationError naming the option when an existing CA cannot be kept as asked.
 */
export async function bootstrapCa(options: BootstrapCaOptions = {}): Promise<BootstrapCaResult> {
  const clock = options.clock ?? systemClock;
  const cwd = options.cwd ?? process.cwd();
  const trustDomain = parseTrustDomain(options.trustDomain ?? DEFAULT_TRUST_DOMAIN);
  const outDir = resolve(cwd, options.outDir ?? ".strait/ca");
  const devVarsPath = resolve(cwd, options.devVarsPath ?? ".dev.vars");
  const show = (p: string): string => {
    const r = relative(cwd, p);
    return r === "" || r.startsWith("..") || isAbsolute(r) ? p : r;
  };
  const at = (name: string): string => resolve(outDir, name);
  if (options.force && options.rotate) throw new ValidationError("--force and --rotate cannot be used together", { field: "--rotate" });

  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const result: BootstrapCaResult = { written: [], kept: [], report: [] };
  const write = async (path: string, text: string, secret: boolean): Promise<void> => {
    await writeFileWithMode(path, text, secret);
    result.written.push(path);
  };

  // Root: kept unless --force.
  const rootFiles = { certificatePem: at("root.pem"), privateKeyPem: at("root-key.pem") };
  const existingRoot = options.force ? undefined : await readPair(rootFiles);
  let root: CaKeyPair;
  if (existingRoot !== undefined) {
    const ca = await loadSigningCa(existingRoot);
    const td = caTrustDomain(ca.certificate);
    if (td !== trustDomain) {
      throw new ValidationError(`--trust-domain: the existing CA in ${show(outDir)} is for ${td ?? "an unknown trust domain"}, not ${trustDomain}; use --force to replace it`, { field: "--trust-domain" });
    }
    if (ca.notAfter.getTime() <= clock.now()) {
      throw new ValidationError(`the root CA in ${show(rootFiles.certificatePem)} has expired; use --force to replace it`, { field: "--force" });
    }
    root = existingRoot;
    result.kept.push(rootFiles.certificatePem, rootFiles.privateKeyPem);
  } else if (options.rotate) {
    throw new ValidationError(`--rotate needs an existing root CA in ${show(outDir)}; run without --rotate first`, { field: "--rotate" });
  } else {
    root = await createRootCa({ trustDomain, clock });
    await write(rootFiles.certificatePem, root.certificatePem, false);
    await write(rootFiles.privateKeyPem, root.privateKeyPem, true);
  }

  if (options.rotate) {
    const next = await createIntermediateCa(root, { trustDomain, clock });
    const stamp = compactTimestamp(clock.now());
    const certificate = at(`intermediate-${stamp}.pem`);
    const privateKey = at(`intermediate-${stamp}-key.pem`);
    const stageRequest = at(`intermediate-${stamp}.stage.json`);
    await write(certificate, next.certificatePem, false);
    await write(privateKey, next.privateKeyPem, true);
    await write(stageRequest, `${JSON.stringify({ certificatePem: next.certificatePem, privateKeyPem: next.privateKeyPem })}\n`, true);
    result.rotated = { certificate, privateKey, stageRequest };
    result.report.push(
      `New intermediate CA for ${trustDomain}, signed by the existing root:`,
      `  certificate: ${show(certificate)}`,
      `  private key: ${show(privateKey)} (0600)`,
      "Stage it (published in the bundle, signs nothing until activated) with the admin token:",
      `  curl -sS -X POST "$STRAIT_CONTROL_URL${STAGE_ROUTE}" -H "authorization: Bearer $ADMIN_TOKEN" -H "content-type: application/json" --data-binary @${show(stageRequest)}`,
      `Delete ${show(stageRequest)} once staged: it holds the private key.`,
      `Activate it (it then signs) once relying parties have pulled the bundle, at least ${Math.ceil(MIN_STAGED_MS / 60_000)} minutes after staging, with the generation number the stage call returned:`,
      `  curl -sS -X POST "$STRAIT_CONTROL_URL${ACTIVATE_ROUTE}" -H "authorization: Bearer $ADMIN_TOKEN" -H "content-type: application/json" -d '{"generation": <N>}'`,
    );
    return result;
  }

  // Intermediate: kept unless --force, if it still chains to the root and is valid.
  const intFiles = { certificatePem: at("intermediate.pem"), privateKeyPem: at("intermediate-key.pem") };
  const existingInt = options.force ? undefined : await readPair(intFiles);
  if (existingInt !== undefined) {
    const ca = await loadSigningCa(existingInt);
    if (!(await verifyIssuedBy(existingInt.certificatePem, root.certificatePem))) {
      throw new ValidationError(`${show(intFiles.certificatePem)} is not issued by ${show(rootFiles.certificatePem)}; use --force to replace both`, { field: "--force" });
    }
    if (ca.notAfter.getTime() <= clock.now()) {
      throw new ValidationError(`the intermediate CA in ${show(intFiles.certificatePem)} has expired; use --rotate or --force`, { field: "--force" });
    }
    result.kept.push(intFiles.certificatePem, intFiles.privateKeyPem);
  } else {
    const intermediate = await createIntermediateCa(root, { trustDomain, clock });
    await write(intFiles.certificatePem, intermediate.certificatePem, false);
    await write(intFiles.privateKeyPem, intermediate.privateKeyPem, true);
  }

  // The JWT signing key and the random secrets.
  const generators: Partial<Record<SecretName, () => Promise<string>>> = {
    JWT_SIGNING_KEY: generateJwtSigningKeyPem,
    ADMIN_TOKEN: async () => randomSecret(),
    CA_KEK: async () => randomSecret(),
  };
  for (const [name, generate] of Object.entries(generators) as Array<[SecretName, () => Promise<string>]>) {
    const path = at(SECRET_FILES[name]);
    if (!options.force && (await readIfExists(path)) !== undefined) {
      await chmod(path, SECRET_FILE_MODE);
      result.kept.push(path);
    } else {
      await write(path, await generate(), true);
    }
  }

  // .dev.vars, from the files, so it always says what `wrangler secret put` would upload.
  const values = {} as Record<SecretName, string>;
  for (const name of Object.keys(SECRET_FILES) as SecretName[]) {
    values[name] = (await readIfExists(at(SECRET_FILES[name]))) ?? "";
  }
  const existingDevVars = await readIfExists(devVarsPath);
  const devVars = mergeDevVars(existingDevVars, values);
  if (devVars === existingDevVars) {
    await chmod(devVarsPath, SECRET_FILE_MODE);
    result.kept.push(devVarsPath);
  } else {
    await write(devVarsPath, devVars, true);
  }

  const fresh = result.written.length > 0;
  result.report.push(
    fresh ? `Strait CA for ${trustDomain} in ${show(outDir)}; local secrets in ${show(devVarsPath)}.` : `Strait CA for ${trustDomain} already bootstrapped in ${show(outDir)}; nothing changed (use --force to replace it).`,
    "For production, set the control worker's secrets from these files:",
    ...(Object.keys(SECRET_FILES) as SecretName[]).map((name) => `  npx wrangler secret put ${name} --env control < ${show(at(SECRET_FILES[name]))}`),
  );
  return result;
}

async function readPair(files: { certificatePem: string; privateKeyPem: string }): Promise<CaKeyPair | undefined> {
  const [certificatePem, privateKeyPem] = await Promise.all([readIfExists(files.certificatePem), readIfExists(files.privateKeyPem)]);
  if (certificatePem === undefined && privateKeyPem === undefined) return undefined;
  if (certificatePem === undefined || privateKeyPem === undefined) {
    throw new ValidationError(`${files.certificatePem} and ${files.privateKeyPem} must both exist; use --force to recreate them`, { field: "--force" });
  }
  return { certificatePem, privateKeyPem };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "trust-domain": { type: "string", default: DEFAULT_TRUST_DOMAIN },
      out: { type: "string", default: ".strait/ca" },
      "dev-vars": { type: "string", default: ".dev.vars" },
      force: { type: "boolean", default: false },
      rotate: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write("usage: node --import tsx scripts/bootstrap-ca.ts [--trust-domain strait.local] [--out .strait/ca] [--dev-vars .dev.vars] [--force] [--rotate]\n");
    return 0;
  }
  const result = await bootstrapCa({
    trustDomain: values["trust-domain"],
    outDir: values.out,
    devVarsPath: values["dev-vars"],
    force: values.force,
    rotate: values.rotate,
  });
  process.stdout.write(`${result.report.join("\n")}\n`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bootstrap-ca: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(err instanceof TypeError && /Unknown option|Unexpected argument/.test(err.message) ? 2 : 1);
    },
  );
}
