/** Runs the policy suite on Deno: input as JSON on stdin, result on stdout. */
import { runPolicySuite, type PolicySuiteInput } from "./suite.ts";

declare const Deno: { stdin: { readable: ReadableStream<Uint8Array> } };

const input = (await new Response(Deno.stdin.readable).json()) as PolicySuiteInput;
console.log(JSON.stringify(await runPolicySuite(input)));
