import { DriverSetupError } from '@stowage/core';
import { describe, expect, it } from 'vitest';
import { MiB } from './helpers.js';
import type { SuiteContext } from './suite-context.js';

/** `doSetup` and `checkAvailable` shapes, and capabilities the engine can work with. Every driver runs it. */
export function setupGroup(ctx: SuiteContext): void {
  describe('setup', () => {
    it('doSetup succeeds and checkAvailable passes on a working backend', async () => {
      await ctx.driver().doSetup();
      await ctx.driver().checkAvailable();
      await ctx.driver().ensureContainer(ctx.container());
    });

    it('doSetup of a misconfigured backend throws DriverSetupError with a message', async () => {
      const broken = await ctx.createBrokenDriver();
      try {
        const error = await broken.doSetup().then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        expect(error, 'doSetup of the broken driver resolved').toBeDefined();
        expect(DriverSetupError.isInstance(error), `expected DriverSetupError, got ${String(error)}`).toBe(true);
        expect((error as Error).message.length).toBeGreaterThan(10);
      } finally {
        await broken.close?.();
      }
    });

    it('declares sane capabilities', () => {
      const { capabilities } = ctx.driver();
      expect(capabilities.maxObjectSize).toBeGreaterThanOrEqual(8 * MiB);
      expect(capabilities.preferredConcurrency).toBeGreaterThanOrEqual(1);
      expect(typeof capabilities.verifiesPutChecksum).toBe('boolean');
      expect(ctx.driver().driverName).toMatch(/^[a-z0-9-]+$/);
      expect(ctx.driver().defaultContainer.length).toBeGreaterThan(0);
    });
  });
}
