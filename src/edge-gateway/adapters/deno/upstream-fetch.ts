/**
 * Outbound HTTP to upstreams and mirrors on Deno. Envoy sends the route's authority upstream as
 * `Host` (the client's, or `rewrite.authority`; a mirror keeps the original one). Deno's `fetch`
 * drops a `Host` header and derives Host from the URL, as workerd's does, unless the request goes
 * through an HTTP client created with `allowHost` (`Deno.createHttpClient`, denoland/deno#19689).
 * The client speaks HTTP/1.1 only: with HTTP/2 Deno would send the URL's `:authority` beside the
 * set `Host` (denoland/deno#32140), and Istio does not upgrade upstream HTTP ports to HTTP/2 by
 * default (MeshConfig `h2UpgradePolicy: DO_NOT_UPGRADE`).
 */
import type { GatewayPlatform } from "../../gateway/platform.ts";

/** An opaque `Deno.HttpClient`: passed to `fetch` as `client`. */
type DenoHttpClient = object;

declare const Deno: {
  createHttpClient(options: { allowHost?: boolean; http1?: boolean; http2?: boolean }): DenoHttpClient;
};

/** A `fetch` that sends the request's `Host` header as given (one HTTP client for the process). */
export function hostPreservingFetch(): GatewayPlatform["fetch"] {
  const client = Deno.createHttpClient({ allowHost: true, http1: true, http2: false });
  return (input, init) => fetch(input, { ...init, client } as RequestInit);
}
