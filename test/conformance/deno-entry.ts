/** Runs the conformance suite on Deno: the input arrives as JSON on stdin, the result leaves on stdout. */
import { runConformance, type ConformanceInput } from "./suite.ts";

declare const Deno: { stdin: { readable: ReadableStream<Uint8Array> } };

const input = (await new Response(Deno.stdin.readable).json()) as ConformanceInput;
console.log(JSON.stringify(await runConformance(input)));
