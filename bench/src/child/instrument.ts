import type { CallOptions, RestoreTarget, StorageDriver, VolumeSource } from '@stowage/core';
import { performance } from 'node:perf_hooks';
import type { PhaseTimes } from './protocol.js';

/**
 * Wrappers that add up the time spent in each kind of I/O call. They sit outside core so the benchmark measures
 * the engine as shipped; the engine's own CPU work (hashing, zero checks, compression) is what remains.
 */
export function instrumentSource(source: VolumeSource, phases: PhaseTimes): VolumeSource {
  return {
    size: source.size,
    async read(target, position) {
      const started = performance.now();
      try {
        return await source.read(target, position);
      } finally {
        phases.read_s += (performance.now() - started) / 1000;
        phases.read_calls += 1;
      }
    },
    // Passed through, or the engine would read every hole of a sparse volume.
    ...(source.dataExtents === undefined ? {} : { dataExtents: source.dataExtents.bind(source) }),
    close: () => source.close(),
  };
}

export function instrumentTarget(target: RestoreTarget, phases: PhaseTimes): RestoreTarget {
  return {
    prepare: (size) => target.prepare(size),
    async write(data, position) {
      const started = performance.now();
      try {
        await target.write(data, position);
      } finally {
        phases.write_s += (performance.now() - started) / 1000;
        phases.write_calls += 1;
      }
    },
    async flush() {
      const started = performance.now();
      try {
        await target.flush();
      } finally {
        phases.flush_s += (performance.now() - started) / 1000;
      }
    },
    close: () => target.close(),
  };
}

/** Delegates every member explicitly (drivers may be classes with private fields, which a Proxy would break). */
export function instrumentDriver(driver: StorageDriver, phases: PhaseTimes): StorageDriver {
  const wrapped: StorageDriver = {
    driverName: driver.driverName,
    capabilities: driver.capabilities,
    defaultContainer: driver.defaultContainer,
    doSetup: (options) => driver.doSetup(options),
    checkAvailable: (options) => driver.checkAvailable(options),
    ensureContainer: (container, options) => driver.ensureContainer(container, options),
    async putObject(container, key, body, options) {
      const started = performance.now();
      try {
        await driver.putObject(container, key, body, options);
      } finally {
        phases.put_s += (performance.now() - started) / 1000;
        phases.put_calls += 1;
      }
    },
    async getObject(container, key, options) {
      const started = performance.now();
      const body = await driver.getObject(container, key, options);
      phases.get_calls += 1;
      // The object's time ends when its last byte has been read, not when the stream opens.
      return (async function* timed() {
        try {
          yield* body;
        } finally {
          phases.get_s += (performance.now() - started) / 1000;
        }
      })();
    },
    deleteObject: (container, key, options) => driver.deleteObject(container, key, options),
    // The optional direct read, timed like getObject, only when the driver has it (the engine checks for it).
    ...(driver.readObjectInto === undefined
      ? {}
      : {
          async readObjectInto(container: string, key: string, target: Uint8Array, options?: CallOptions) {
            const started = performance.now();
            try {
              return await driver.readObjectInto!(container, key, target, options);
            } finally {
              phases.get_s += (performance.now() - started) / 1000;
              phases.get_calls += 1;
            }
          },
        }),
    listObjects: (container, prefix, options) => driver.listObjects(container, prefix, options),
  };
  if (driver.close !== undefined) wrapped.close = () => driver.close!();
  return wrapped;
}
