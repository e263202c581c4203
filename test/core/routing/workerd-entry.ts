/** A bare worker (no nodejs_compat) that runs the routing case table. */
import { runRoutingCases } from "./cases.ts";

export default {
  fetch(): Response {
    return Response.json(runRoutingCases());
  },
};
