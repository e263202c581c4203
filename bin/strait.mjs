#!/usr/bin/env node
// Entry point of the `strait` CLI: registers tsx so the TypeScript sources run
// straight from a clone, then hands over to src/cli/main.ts.
import { register } from "tsx/esm/api";

register();
const { run } = await import("../src/cli/main.ts");
process.exitCode = await run(process.argv);
