/** How the control worker reaches the publisher object (binding PUBLISHER, one object named "mesh"). */
import type { ControlEnv } from "../env.ts";
import type { PublisherRpc } from "./publisher-api.ts";

export const PUBLISHER_NAME = "mesh";

/** The publisher object's stub. */
export function publisher(env: ControlEnv): PublisherRpc {
  const ns = env.PUBLISHER;
  return ns.get(ns.idFromName(PUBLISHER_NAME)) as unknown as PublisherRpc;
}

/**
 * Asks for a publish after a landed write. The write has committed, so a failure to reach the
 * publisher is logged, not returned: the publisher converges on its next run (any later write,
 * a long-poll of a new target, or its own retry).
 */
export async function requestPublish(env: ControlEnv): Promise<void> {
  try {
    await publisher(env).requestPublish();
  } catch (err) {
    console.error("publish request failed", err instanceof Error ? err.message : String(err));
  }
}
