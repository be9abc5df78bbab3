import type { Readable } from 'node:stream';

/** The body grew past the size cap; counted after decompression, so a gzip bomb stops at the cap. */
export class BodyTooLargeError extends Error {
  readonly code = 'CP_BODY_TOO_LARGE';
  constructor(readonly maxBytes: number) {
    super(`body exceeds the ${maxBytes}-byte cap`);
  }
}

/**
 * Reads a stream into one Buffer, stopping as soon as it passes maxBytes, and destroying it when the signal aborts
 * (the total deadline), so neither a bomb nor a server that trickles bytes forever can hold the worker.
 */
export async function readCapped(stream: Readable, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const onAbort = () => stream.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stream) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      total += buf.length;
      if (total > maxBytes) throw new BodyTooLargeError(maxBytes);
      chunks.push(buf);
    }
    // An abort that lands between the last chunk and 'end' must still count as a failure.
    if (signal?.aborted) throw signal.reason;
    return Buffer.concat(chunks, total);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!stream.destroyed) stream.destroy();
  }
}
