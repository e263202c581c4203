import { Command, CommanderError, Option } from "commander";
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { StraitError } from "../core/errors.ts";
import { ExitCode, ServerError, ServerUnreachableError, UsageError, exitCodeFor } from "./cli-errors.ts";
import { DEFAULT_SERVER } from "./client.ts";
import { CliContext, processIo, type CliIo } from "./context.ts";
import { registerAnalyze } from "./commands/analyze.ts";
import { registerApply } from "./commands/apply.ts";
import { registerDelete } from "./commands/delete.ts";
import { registerGet } from "./commands/get.ts";
import { registerHistory } from "./commands/history.ts";
import { registerJoinToken } from "./commands/join-token.ts";
import { registerNode } from "./commands/node.ts";
import { registerProxyStatus } from "./commands/proxy-status.ts";
import { registerSvid } from "./commands/svid.ts";
import { registerToken } from "./commands/token.ts";
import { registerValidate } from "./commands/validate.ts";

const EXIT_CODES_HELP = `
Exit codes:
  0  success (diff: no changes)
  1  the command failed: the server refused it, validation or analysis found
     errors, diff found changes
  2  usage error: unknown command or flag, bad flag value, missing file
  3  cannot reach the control plane, or it refused the credentials (401/403)

Environment:
  STRAIT_SERVER  control plane URL (default ${DEFAULT_SERVER})
  STRAIT_TOKEN   bearer token: the admin token or a scoped API token
  STRAIT_REQUEST_TIMEOUT  default for --request-timeout (e.g. 5m)`;

/** Builds the `strait` program; commands write through `ctx.io`. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command("strait")
    .description("Strait service mesh: manage Istio-shaped config and SPIFFE identities on the Strait control plane")
    .version("0.1.0")
    .addOption(new Option("-s, --server <url>", "control plane URL").env("STRAIT_SERVER").default(DEFAULT_SERVER))
    .addOption(new Option("-t, --token <token>", "bearer token (admin or scoped API token)").env("STRAIT_TOKEN"))
    .addOption(new Option("--request-timeout <duration>", "give up on a request after this long (e.g. 30s)").env("STRAIT_REQUEST_TIMEOUT").default("60s"))
    .addHelpText("after", EXIT_CODES_HELP)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });

  registerApply(program, ctx);
  registerGet(program, ctx);
  registerDelete(program, ctx);
  registerValidate(program, ctx);
  registerAnalyze(program, ctx);
  registerHistory(program, ctx);
  registerProxyStatus(program, ctx);
  registerToken(program, ctx);
  registerJoinToken(program, ctx);
  registerNode(program, ctx);
  registerSvid(program, ctx);
  return program;
}

/**
 * Runs the CLI on `argv` (as `process.argv`) and resolves to the exit code.
 * Never throws: every failure is reported on stderr and mapped to 1, 2 or 3.
 */
export async function run(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const ctx = new CliContext(io);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv]);
    return ctx.exitCode;
  } catch (err) {
    // Commander already printed its own message (or the help/version text).
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    io.err(describeError(err, ctx));
    return exitCodeFor(err);
  }
}

/**
 * The stderr text for a failed command, in one style for every command (kubectl's
 * `error: ...`): server refusals end with their stable code, body field names the
 * server reports are mapped back to the flags the user typed (`ttlSeconds` -> `--ttl`),
 * and hints name the setting that was actually used (`STRAIT_TOKEN` or `--token`).
 */
export function describeError(err: unknown, ctx?: CliContext): string {
  if (err instanceof ServerError) {
    const flags = ctx?.fieldFlags ?? new Map<string, string>();
    const message = toFlags(err.message, flags);
    const field = err.field === undefined ? undefined : toFlags(err.field, flags);
    const lines = [`error: ${message} (${err.code})`];
    if (field !== undefined && !message.includes(field)) lines.push(`  field: ${field}`);
    // The first detail is usually the message itself; list only what it does not already say.
    for (const d of err.details) {
      const path = toFlags(d.path, flags);
      const said = message.includes(`${path}: ${d.message}`) || (err.details.length === 1 && message.includes(d.message));
      if (!said) lines.push(`  - ${path}: ${d.message}`);
    }
    if (err.status === 401) lines.push(ctx?.tokenSetting === undefined ? "  no token was sent: set STRAIT_TOKEN or pass --token" : `  check ${ctx.tokenSetting}: the control plane did not accept it`);
    return `${lines.join("\n")}\n`;
  }
  if (err instanceof UsageError) return `error: ${err.message}\n(run 'strait help' for usage)\n`;
  if (err instanceof ServerUnreachableError) return `error: ${err.message}\n`;
  if (err instanceof StraitError) return `error: ${err.message} (${err.code})\n`;
  return `error: ${err instanceof Error ? err.message : String(err)}\n`;
}

/** Replaces whole-word body field names (`ttlSeconds`, `namespaces[0]`) with the flags that set them. */
function toFlags(text: string, flags: ReadonlyMap<string, string>): string {
  let out = text;
  for (const [field, flag] of flags) out = out.replace(new RegExp(`(?<![\\w.-])${field}(\\[\\d+\\])?(?![\\w-])`, "g"), flag);
  return out;
}

/** True when this file is the process entry (`node --import tsx src/cli/main.ts`, i.e. `npm run strait`), not imported by bin/strait.mjs. */
function isEntryModule(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryModule()) process.exitCode = await run(process.argv);
