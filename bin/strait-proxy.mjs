#!/usr/bin/env node
// Entry point of `strait-proxy`, the node proxy: registers tsx so the TypeScript sources
// run straight from a clone, then hands over to src/node-proxy/main.ts.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/node-proxy/main.ts");
process.exitCode = await main(process.argv.slice(2));
