import { describe, expect, it } from 'vitest';
import { getBytes, MiB, seededBytes } from './helpers.js';
import type { SuiteContext } from './suite-context.js';

/**
 * Run for drivers that declare `acceptsSharedMemory`: the engine then hands `putObject` views of its shared
 * chunk buffers, so such a body must be stored exactly, at any offset into the shared memory.
 */
export function sharedMemoryGroup(ctx: SuiteContext): void {
  const { driver, container, unique } = ctx;

  describe('capability: acceptsSharedMemory', () => {
    it('stores a body that views a SharedArrayBuffer, at an offset, exactly', async () => {
      const data = seededBytes(3 * MiB + 17, 60);
      const shared = new Uint8Array(new SharedArrayBuffer(data.length + 4096));
      shared.set(data, 4096);
      const key = `${unique('shared')}object`;
      const body = shared.subarray(4096);
      await driver().putObject(container(), key, body, { length: body.length });
      expect((await getBytes(driver(), container(), key)).equals(data)).toBe(true);
    });
  });
}
