import { bodyParts, type PutBody } from '@stowage/driver-contract';

/** A body that yielded more or fewer bytes than its announced `length`: the caller's fault, not the storage's. */
export class BodyLengthError extends Error {
  override readonly name: string = 'BodyLengthError';
  constructor(
    message: string,
    /** Bytes seen so far (for a long body: up to the part that crossed the limit). */
    readonly received: number,
    readonly announced: number,
  ) {
    super(message);
  }
}

/**
 * The parts of `body`, checked to add up to exactly `length` bytes: a `BodyLengthError` as soon as they exceed it,
 * or at the end when they fall short. Parts are passed on as they come, not copied.
 */
export async function* countedBody(body: PutBody, length: number): AsyncIterable<Uint8Array> {
  let received = 0;
  for await (const part of bodyParts(body)) {
    received += part.length;
    if (received > length) throw new BodyLengthError(`body is longer than the ${length} bytes announced (${received} or more)`, received, length);
    yield part;
  }
  if (received !== length) throw new BodyLengthError(`body ended after ${received} bytes, ${length} were announced`, received, length);
}

/** `body` as one Buffer of exactly `length` bytes (for backends that need the whole object up front). */
export async function collectBody(body: PutBody, length: number): Promise<Buffer> {
  if (body instanceof Uint8Array) {
    if (body.length !== length) throw new BodyLengthError(`body has ${body.length} bytes, ${length} were announced`, body.length, length);
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }
  const out = Buffer.allocUnsafe(length);
  let filled = 0;
  for await (const part of countedBody(body, length)) {
    out.set(part, filled);
    filled += part.length;
  }
  return out;
}
