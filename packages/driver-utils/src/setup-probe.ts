import type { StorageDriver } from '@stowage/driver-contract';
import { createHash, randomUUID } from 'node:crypto';

/** Where drivers write their probe objects: a prefix no backup uses (backup keys start with `volume_`). */
export const PROBE_PREFIX = '.stowage-probe/';

/** How the probe reaches the storage: three plain calls, so that a driver can probe below its containers too. */
export interface ProbeAccess {
  /** How a probe key reads in messages, e.g. `volumebackups/.stowage-probe/<uuid>`. */
  describe(key: string): string;
  write(key: string, data: Uint8Array, signal: AbortSignal | undefined): Promise<void>;
  read(key: string, signal: AbortSignal | undefined): Promise<Uint8Array>;
  remove(key: string, signal: AbortSignal | undefined): Promise<void>;
}

export interface SetupProbeOptions {
  readonly signal?: AbortSignal | undefined;
  /** Prefix of the probe key; a random UUID follows. `PROBE_PREFIX` by default. */
  readonly keyPrefix?: string | undefined;
  /**
   * Turns the failed step ("writing the probe object c/k") and the error it raised into what `doSetup` throws,
   * typically `setupStepError(prefix, `${step} failed (hint)`, error, details)`.
   */
  readonly onFailure: (step: string, error: unknown) => Error;
}

/**
 * Prove the storage is usable: write a small probe object, read it back and compare, delete it. Permissions and
 * quotas say little (read-only mounts, full disks, ACLs): only a real write tells. After a failed read the probe is
 * still deleted (best effort) so that setup retries do not pile probes up.
 */
export async function runSetupProbe(access: ProbeAccess, options: SetupProbeOptions): Promise<void> {
  const { signal, onFailure } = options;
  const key = `${options.keyPrefix ?? PROBE_PREFIX}${randomUUID()}`;
  const where = access.describe(key);
  const data = Buffer.from(`stowage probe ${new Date().toISOString()}\n`);
  try {
    await access.write(key, data, signal);
  } catch (error) {
    throw onFailure(`writing the probe object ${where}`, error);
  }
  let back: Uint8Array;
  try {
    back = await access.read(key, signal);
  } catch (error) {
    await access.remove(key, undefined).catch(() => undefined);
    throw onFailure(`reading back the probe object ${where}`, error);
  }
  if (!Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(data)) {
    await access.remove(key, undefined).catch(() => undefined);
    throw onFailure(
      `comparing the probe object ${where}`,
      new Error(`read back ${back.length} bytes that differ from the ${data.length} bytes written`),
    );
  }
  try {
    await access.remove(key, signal);
  } catch (error) {
    throw onFailure(`deleting the probe object ${where}`, error);
  }
}

/** Probe access through a driver's own object calls, in `container`. */
export function objectProbe(driver: Pick<StorageDriver, 'putObject' | 'getObject' | 'deleteObject'>, container: string): ProbeAccess {
  return {
    describe: (key) => `${container}/${key}`,
    write: (key, data, signal) =>
      driver.putObject(container, key, data, { length: data.length, sha256: createHash('sha256').update(data).digest('hex'), signal }),
    async read(key, signal) {
      const parts: Uint8Array[] = [];
      for await (const part of await driver.getObject(container, key, { signal })) parts.push(part);
      return Buffer.concat(parts);
    },
    remove: (key, signal) => driver.deleteObject(container, key, { signal }),
  };
}
