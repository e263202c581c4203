/**
 * A short, printable excerpt of text that came from outside (an unverified token's header, a
 * path): control characters, C1 controls (U+0080–U+009F, e.g. the 8-bit CSI U+009B) and
 * bidirectional overrides (U+202A–U+202E, U+2066–U+2069) are replaced by U+FFFD, and the text is
 * cut to `max` characters. Used for everything the control API echoes in an error body or keeps
 * in the audit log, so no client can forge log lines, reorder what an operator reads, or make us
 * store or return kilobytes of its choosing.
 *
 * @example safeExcerpt("kid\u202Egpj.exe", 8) // "kid\uFFFDgpj.…"
 */
export function safeExcerpt(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const printable = text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, "\ufffd");
  const chars = Array.from(printable);
  return chars.length <= max ? printable : `${chars.slice(0, max - 1).join("")}…`;
}

/** Longest error message the API returns or audits. */
export const MAX_ERROR_MESSAGE_CHARS = 512;
