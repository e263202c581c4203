/**
 * IPv4/IPv6 addresses and CIDR blocks for `ipBlocks`, `remoteIpBlocks`,
 * `source.ip`, `remote.ip` and `destination.ip`. A small hand-written parser:
 * user input never reaches a regular expression.
 *
 * IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack Node
 * socket reports for an IPv4 peer) are treated as the IPv4 address, as Envoy
 * does on a dual-stack listener.
 */

/** A parsed CIDR block: address bytes (4 or 16) with host bits cleared, and prefix length. */
export interface Cidr {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (p.length === 0 || p.length > 3) return undefined;
    // Leading zeros are refused (Go's netip does too): "010" is octal to some parsers, decimal to others.
    if (p.length > 1 && p.charCodeAt(0) === 48) return undefined;
    let n = 0;
    for (let j = 0; j < p.length; j++) {
      const c = p.charCodeAt(j);
      if (!isDigit(c)) return undefined;
      n = n * 10 + (c - 48);
    }
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseHextets(text: string, out: number[]): boolean {
  if (text === "") return true;
  for (const group of text.split(":")) {
    if (group.length === 0 || group.length > 4) return false;
    let n = 0;
    for (let j = 0; j < group.length; j++) {
      const v = hexValue(group.charCodeAt(j));
      if (v < 0) return false;
      n = n * 16 + v;
    }
    out.push(n);
  }
  return true;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  let body = text;
  let tail: Uint8Array | undefined;
  const lastColon = body.lastIndexOf(":");
  if (lastColon >= 0 && body.indexOf(".", lastColon) > lastColon) {
    tail = parseIpv4(body.slice(lastColon + 1));
    if (tail === undefined) return undefined;
    // Keep the colon so "::1.2.3.4" still splits into "" and "".
    body = body.slice(0, lastColon + 1) + "0:0";
  }
  const words: number[] = [];
  const dbl = body.indexOf("::");
  if (dbl >= 0) {
    if (body.indexOf("::", dbl + 1) >= 0) return undefined;
    const head: number[] = [];
    const rest: number[] = [];
    if (!parseHextets(body.slice(0, dbl), head) || !parseHextets(body.slice(dbl + 2), rest)) return undefined;
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return undefined;
    words.push(...head, ...new Array<number>(missing).fill(0), ...rest);
  } else {
    if (!parseHextets(body, words) || words.length !== 8) return undefined;
  }
  if (words.length !== 8) return undefined;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  if (tail !== undefined) out.set(tail, 12);
  return out;
}

function unmapV4(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== 16) return bytes;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return bytes;
  if (bytes[10] !== 0xff || bytes[11] !== 0xff) return bytes;
  return bytes.slice(12);
}

/** Parses an IPv4 or IPv6 address (no zone, no brackets); IPv4-mapped IPv6 becomes IPv4. Undefined when malformed. */
export function parseIp(text: string): Uint8Array | undefined {
  if (text.includes(":")) {
    const v6 = parseIpv6(text);
    return v6 === undefined ? undefined : unmapV4(v6);
  }
  return parseIpv4(text);
}

/**
 * Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `x::/n`. A bare address is
 * a /32 or /128. Host bits beyond the prefix are cleared (as Go's netip and
 * Envoy's CidrRange do). Undefined when malformed.
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.slice(0, slash);
  let bytes: Uint8Array | undefined = addrText.includes(":") ? parseIpv6(addrText) : parseIpv4(addrText);
  if (bytes === undefined) return undefined;
  const max = bytes.length * 8;
  let prefix = max;
  if (slash >= 0) {
    const bits = text.slice(slash + 1);
    if (bits.length === 0 || bits.length > 3) return undefined;
    if (bits.length > 1 && bits.charCodeAt(0) === 48) return undefined;
    prefix = 0;
    for (let j = 0; j < bits.length; j++) {
      const c = bits.charCodeAt(j);
      if (!isDigit(c)) return undefined;
      prefix = prefix * 10 + (c - 48);
    }
    if (prefix > max) return undefined;
  }
  // A mapped block (::ffff:10.0.0.0/104) is the IPv4 block 10.0.0.0/8.
  if (bytes.length === 16 && prefix >= 96) {
    const v4 = unmapV4(bytes);
    if (v4.length === 4) {
      bytes = v4;
      prefix -= 96;
    }
  }
  const masked = bytes.slice();
  for (let bit = prefix; bit < masked.length * 8; bit++) masked[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { bytes: masked, prefix };
}

/** True when `ip` (from `parseIp`) lies in `cidr`; addresses of the other family never do. */
export function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  if (cidr.bytes.length !== ip.length) return false;
  const full = cidr.prefix >> 3;
  for (let i = 0; i < full; i++) if (cidr.bytes[i] !== ip[i]) return false;
  const rem = cidr.prefix & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (cidr.bytes[full]! & mask) === (ip[full]! & mask);
}
