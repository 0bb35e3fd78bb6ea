import { AbortedError, NotFoundError } from '@stowage/core';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { drain, getBytes, inParallel, listKeys, MiB, putBytes, seededBytes, sha256Hex } from './helpers.js';
import type { SuiteContext } from './suite-context.js';

/** The storage calls every driver implements: put (bytes and streams), get, delete, list, aborts. */
export function primitivesGroup(ctx: SuiteContext): void {
  const { driver, container, unique } = ctx;

  describe('primitives', () => {
    it('puts and gets an object from bytes and from a stream', async () => {
      const prefix = unique('put');
      const data = seededBytes(300_000, 1);
      await putBytes(driver(), container(), `${prefix}bytes`, data);
      await putBytes(driver(), container(), `${prefix}stream`, data, 7);
      expect((await getBytes(driver(), container(), `${prefix}bytes`)).equals(data)).toBe(true);
      expect((await getBytes(driver(), container(), `${prefix}stream`)).equals(data)).toBe(true);
    });

    it('overwrites an existing object', async () => {
      const key = `${unique('overwrite')}object`;
      await putBytes(driver(), container(), key, Buffer.from('first version'));
      await putBytes(driver(), container(), key, Buffer.from('second'));
      expect((await getBytes(driver(), container(), key)).toString()).toBe('second');
    });

    it('stores an empty object', async () => {
      const key = `${unique('empty')}object`;
      await putBytes(driver(), container(), key, Buffer.alloc(0));
      expect((await getBytes(driver(), container(), key)).length).toBe(0);
    });

    it('streams a large object in many parts', async () => {
      const key = `${unique('large')}object`;
      const size = Math.min(driver().capabilities.maxObjectSize, 40 * MiB);
      const data = seededBytes(size, 2);
      await putBytes(driver(), container(), key, data, 64);
      const back = await getBytes(driver(), container(), key);
      expect(back.length).toBe(size);
      expect(sha256Hex(back)).toBe(sha256Hex(data));
    });

    it('refuses a streamed body shorter or longer than its declared length, and stores nothing', async () => {
      const prefix = unique('miscounted');
      const data = seededBytes(64 * 1024, 3);
      const stream = (bytes: Buffer) =>
        (async function* () {
          yield bytes.subarray(0, 1000);
          yield bytes.subarray(1000);
        })();
      for (const [label, length] of [['short', data.length + 10], ['long', data.length - 10]] as const) {
        const key = `${prefix}${label}`;
        const error = await driver()
          .putObject(container(), key, stream(data), { length, sha256: sha256Hex(data) })
          .then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
        expect(error, `a ${label} body was accepted`).toBeInstanceOf(Error);
      }
      expect(await listKeys(driver(), container(), prefix)).toEqual([]);
    });

    it('throws NotFoundError naming the object for a missing key', async () => {
      const key = `${unique('missing')}nothing-here`;
      const error = await driver()
        .getObject(container(), key)
        .then(drain)
        .then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
      expect(NotFoundError.isInstance(error), `expected NotFoundError, got ${String(error)}`).toBe(true);
      expect((error as Error).message).toContain(key);
    });

    it('deletes objects, and deleting a missing object succeeds', async () => {
      const key = `${unique('delete')}object`;
      await putBytes(driver(), container(), key, Buffer.from('short-lived'));
      await driver().deleteObject(container(), key);
      await expect(driver().getObject(container(), key).then(drain)).rejects.toSatisfy((error) => NotFoundError.isInstance(error));
      await driver().deleteObject(container(), key);
    });

    it('lists exactly the keys under a prefix, across many objects', async () => {
      const prefix = unique('list');
      const keys: string[] = [];
      for (let i = 0; i < 260; i += 1) keys.push(`${prefix}group-${i % 3}/object-${String(i).padStart(4, '0')}`);
      await inParallel(keys, 16, (key) => putBytes(driver(), container(), key, Buffer.from(key)));
      await putBytes(driver(), container(), `${prefix.slice(0, -1)}-sibling/not-listed`, Buffer.from('x'));
      expect((await listKeys(driver(), container(), prefix)).sort()).toEqual([...keys].sort());
      const group = await listKeys(driver(), container(), `${prefix}group-1/`);
      expect(group.sort()).toEqual(keys.filter((key) => key.startsWith(`${prefix}group-1/`)).sort());
      expect((await listKeys(driver(), container(), `${prefix}group-1/object-01`)).sort()).toEqual(
        keys.filter((key) => key.startsWith(`${prefix}group-1/object-01`)).sort(),
      );
      expect(await listKeys(driver(), container(), unique('nothing'))).toEqual([]);
    });

    it('handles concurrent puts', async () => {
      const prefix = unique('concurrent');
      const items = Array.from({ length: 24 }, (_, i) => ({ key: `${prefix}object-${i}`, data: seededBytes(200_000 + i, 10 + i) }));
      await Promise.all(items.map(({ key, data }) => putBytes(driver(), container(), key, data)));
      for (const { key, data } of items) expect(sha256Hex(await getBytes(driver(), container(), key))).toBe(sha256Hex(data));
    });

    it('rejects calls whose signal is already aborted', async () => {
      const signal = AbortSignal.abort(new Error('test abort'));
      const key = `${unique('abort')}object`;
      const error = await driver()
        .putObject(container(), key, Buffer.from('never'), { length: 5, sha256: sha256Hex(Buffer.from('never')), signal })
        .then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
      expect(error, 'a put with an aborted signal resolved').toBeDefined();
      expect(AbortedError.isInstance(error) || (error as Error).name === 'AbortError').toBe(true);
    });

    it('treats a missing container as empty when listing', async () => {
      expect(await listKeys(driver(), `contract-missing-${randomUUID().slice(0, 8)}`, '')).toEqual([]);
    });
  });
}
