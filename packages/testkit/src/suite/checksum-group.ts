import { ChecksumMismatchError } from '@stowage/core';
import { describe, expect, it } from 'vitest';
import { listKeys, seededBytes, sha256Hex } from './helpers.js';
import type { SuiteContext } from './suite-context.js';

/**
 * Run for drivers that declare `verifiesPutChecksum`: the engine then hands them each object's sha256 and trusts
 * them to refuse bytes that do not match it, so the suite proves they do.
 */
export function checksumGroup(ctx: SuiteContext): void {
  const { driver, container, unique } = ctx;

  describe('capability: verifiesPutChecksum', () => {
    it('refuses a body that does not match the given sha256, and stores nothing', async () => {
      const prefix = unique('checksum');
      const data = seededBytes(100_000, 50);
      const wrong = sha256Hex(Buffer.from('something else'));
      const error = await driver()
        .putObject(container(), `${prefix}object`, data, { length: data.length, sha256: wrong })
        .then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
      expect(ChecksumMismatchError.isInstance(error), `expected ChecksumMismatchError, got ${String(error)}`).toBe(true);
      expect(await listKeys(driver(), container(), prefix)).toEqual([]);
    });

    it('accepts a streamed body whose sha256 matches', async () => {
      const key = `${unique('checksum-ok')}object`;
      const data = seededBytes(100_000, 51);
      const body = (async function* () {
        yield data.subarray(0, 50_000);
        yield data.subarray(50_000);
      })();
      await driver().putObject(container(), key, body, { length: data.length, sha256: sha256Hex(data) });
      expect(await listKeys(driver(), container(), key)).toEqual([key]);
    });
  });
}
