/** Authority (`host[:port]`) helpers that keep the original case. */
export { authorityPort } from "./host-match.ts";

/** `host:port` -> `host` (IPv6 brackets kept), case preserved. */
export function stripPortKeepCase(authority: string): string {
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    return end < 0 ? authority : authority.slice(0, end + 1);
  }
  const colon = authority.lastIndexOf(":");
  if (colon < 0 || authority.indexOf(":") !== colon) return authority;
  return authority.slice(0, colon);
}
