/** Runs the routing case table on Deno and prints the results as JSON. */
import { runRoutingCases } from "./cases.ts";

console.log(JSON.stringify(runRoutingCases()));
