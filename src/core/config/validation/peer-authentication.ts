import type { MtlsMode, PeerAuthenticationSpec } from "../kinds/peer-authentication.ts";
import { checkWorkloadSelector, workloadSelectorShape } from "./common.ts";
import type { KindValidator } from "./kind-validator.ts";
import { field } from "./report.ts";
import { map, obj, oneOf } from "./shape.ts";

const modeShape = obj<{ mode?: MtlsMode }>({ mode: oneOf(["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]) });

const shape = obj<PeerAuthenticationSpec>({
  selector: workloadSelectorShape,
  mtls: modeShape,
  portLevelMtls: map(modeShape),
});

/** Istio's `ValidatePeerAuthentication`. */
export const peerAuthenticationValidator: KindValidator<PeerAuthenticationSpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    checkWorkloadSelector(spec.selector, "spec.selector", r);
    if (spec.portLevelMtls === undefined) return;
    const ports = Object.keys(spec.portLevelMtls);
    if (ports.length === 0) r.error("spec.portLevelMtls", "port level mTLS, if defined, must have at least one element");
    else if (Object.keys(spec.selector?.matchLabels ?? {}).length === 0) {
      r.error("spec.portLevelMtls", "mesh/namespace peer authentication cannot have port level mTLS (set spec.selector.matchLabels)");
    }
    for (const port of ports) {
      if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) r.error(field("spec.portLevelMtls", port), `port must be in range 1..65535 (got ${JSON.stringify(port)})`);
    }
  },
};
