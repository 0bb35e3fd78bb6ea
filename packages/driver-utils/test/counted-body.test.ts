import { describe, expect, it } from 'vitest';
import { BodyLengthError, collectBody, countedBody } from '../src/index.js';

async function* stream(...parts: number[][]): AsyncIterable<Uint8Array> {
  for (const part of parts) yield new Uint8Array(part);
}

async function drain(parts: AsyncIterable<Uint8Array>): Promise<number[]> {
  const out: number[] = [];
  for await (const part of parts) out.push(...part);
  return out;
}

describe('countedBody', () => {
  it('passes a body of exactly the announced length through, bytes or stream', async () => {
    expect(await drain(countedBody(stream([1, 2], [3]), 3))).toEqual([1, 2, 3]);
    expect(await drain(countedBody(new Uint8Array([4, 5]), 2))).toEqual([4, 5]);
    expect(await drain(countedBody(stream(), 0))).toEqual([]);
  });

  it('fails a short body at its end, naming both numbers', async () => {
    const error = await drain(countedBody(stream([1, 2]), 5)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyLengthError);
    expect((error as Error).message).toBe('body ended after 2 bytes, 5 were announced');
    expect(error).toMatchObject({ received: 2, announced: 5 });
  });

  it('fails a long body as soon as it crosses the length, before yielding the excess', async () => {
    const seen: number[] = [];
    const error = await (async () => {
      for await (const part of countedBody(stream([1, 2], [3, 4], [5]), 3)) seen.push(...part);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([1, 2]);
    expect((error as Error).message).toBe('body is longer than the 3 bytes announced (4 or more)');
    expect(error).toMatchObject({ received: 4, announced: 3 });
  });
});

describe('collectBody', () => {
  it('collects a stream into one Buffer', async () => {
    const data = await collectBody(stream([1], [2, 3]), 3);
    expect(Buffer.isBuffer(data)).toBe(true);
    expect([...data]).toEqual([1, 2, 3]);
  });

  it('returns bytes of the right length without copying them', async () => {
    const bytes = new Uint8Array([9, 8, 7]);
    const data = await collectBody(bytes, 3);
    expect(data.buffer).toBe(bytes.buffer);
  });

  it('refuses bytes or a stream of another length', async () => {
    await expect(collectBody(new Uint8Array(4), 3)).rejects.toThrow('body has 4 bytes, 3 were announced');
    await expect(collectBody(stream([1]), 3)).rejects.toThrow('body ended after 1 bytes, 3 were announced');
    await expect(collectBody(stream([1, 2, 3, 4]), 3)).rejects.toBeInstanceOf(BodyLengthError);
  });
});
