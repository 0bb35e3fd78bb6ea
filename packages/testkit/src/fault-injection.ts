import type { PutBody, PutObjectOptions, StorageDriver } from '@stowage/core';

/**
 * Wraps any driver so that its `failAfterPuts`-th successful put is followed by failures: a backend dying in
 * the middle of a backup, for any driver, without touching its server.
 */
export function failingAfterPuts(driver: StorageDriver, failAfterPuts: number): StorageDriver {
  let puts = 0;
  return new Proxy(driver, {
    get(target, property) {
      if (property === 'putObject') {
        return async (container: string, key: string, body: PutBody, options: PutObjectOptions) => {
          if (puts >= failAfterPuts) throw new Error(`injected failure: backend died before putting ${container}/${key}`);
          puts += 1;
          return target.putObject(container, key, body, options);
        };
      }
      // Getters run on the real driver: its #private fields are not reachable through the proxy.
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
