/**
 * A response body passed through as it streams, counting its bytes, that reports once how it
 * ended: read to its end, cancelled by the runtime because the client went away (Envoy: flag `DC`
 * on the upstream's response code), or failed because the upstream's body did (Envoy:
 * `upstream_reset_after_response_started`). Pull-based with no queue of its own: a chunk is read
 * from the upstream only when the runtime asks for one, so a slow client slows the upstream read
 * as it would without the gateway.
 */

export type BodyEnd = "complete" | "downstream-gone" | "upstream-failed";

export function countedBody(source: ReadableStream<Uint8Array>, onEnd: (how: BodyEnd, bytes: number) => void): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let bytes = 0;
  let ended = false;
  const end = (how: BodyEnd) => {
    if (ended) return;
    ended = true;
    onEnd(how, bytes);
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (err) {
          end("upstream-failed");
          controller.error(err);
          return;
        }
        if (r.done) {
          end("complete");
          controller.close();
          return;
        }
        bytes += r.value.byteLength;
        controller.enqueue(r.value);
      },
      cancel(reason) {
        end("downstream-gone");
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
