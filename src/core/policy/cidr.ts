/** A parsed CIDR block: address bytes (4 or 16) and prefix length. */
export interface Cidr {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

export function parseIp(text: string): Uint8Array | undefined {
  void text;
  throw new Error("not implemented yet");
}
export function parseCidr(text: string): Cidr | undefined {
  void text;
  throw new Error("not implemented yet");
}
export function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  void cidr;
  void ip;
  throw new Error("not implemented yet");
}
