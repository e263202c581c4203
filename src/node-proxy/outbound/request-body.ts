/**
 * Request bodies kept in memory so a try can be repeated (retries, mirrors), up to Envoy's
 * default per-connection buffer limit (1 MiB). A larger body streams through once: such a
 * request is not retried and not mirrored, as in Envoy when the retry buffer overflows.
 */
import type { IncomingMessage } from "node:http";
import { PassThrough, type Readable } from "node:stream";

export const RETRY_BUFFER_LIMIT = 1024 * 1024;

export type RequestBody = { kind: "buffered"; data: Buffer } | { kind: "streaming"; stream: Readable };

const EMPTY = Buffer.alloc(0);

export function readBody(req: IncomingMessage, limit = RETRY_BUFFER_LIMIT): Promise<RequestBody> {
  const declared = req.headers["content-length"];
  if (declared === "0" || (declared === undefined && req.headers["transfer-encoding"] === undefined)) {
    req.resume();
    return Promise.resolve({ kind: "buffered", data: EMPTY });
  }
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve({ kind: "streaming", stream: req });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      chunks.push(c);
      if (size > limit) {
        // Chunked body over the limit: hand over what was read plus the rest, unbuffered.
        req.off("data", onData);
        req.off("end", onEnd);
        req.pause();
        const pass = new PassThrough();
        for (const chunk of chunks) pass.write(chunk);
        req.pipe(pass);
        resolve({ kind: "streaming", stream: pass });
      }
    };
    const onEnd = () => resolve({ kind: "buffered", data: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", reject);
  });
}

