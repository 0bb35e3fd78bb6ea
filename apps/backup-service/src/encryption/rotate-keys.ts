/**
 * `stowage keys rotate`: re-wrap every project data key of one backend under a new master key. No backup object is
 * read or rewritten (the data keys stay the same; only their wrapping changes), so it takes seconds whatever is stored.
 */
import { resolve } from 'node:path';
import { ConfigError, runWithTimeout } from '@stowage/core';
import type { ServiceConfig } from '../config/load-config.js';
import { loadBackend } from '../plugins/plugin-loader.js';
import { loadMasterKeys, readMasterKeyFile } from './master-keys.js';
import { ProjectKeyStore } from './project-keys.js';

export interface RotationReport {
  readonly backend: string;
  readonly previousMasterKeyId: string;
  readonly newMasterKeyId: string;
  readonly rewrapped: number;
  readonly unchanged: number;
  readonly failed: ReadonlyArray<{ readonly object: string; readonly reason: string }>;
}

export async function rotateBackendKeys(config: ServiceConfig, backendName: string, newMasterKeyFile: string): Promise<RotationReport> {
  const index = config.backends.findIndex((backend) => backend.name === backendName);
  const backend = config.backends[index];
  if (backend === undefined) {
    throw new ConfigError(`no backend named ${backendName} in ${config.source} (configured: ${config.backends.map((b) => b.name).join(', ')})`);
  }
  if (backend.encryption === undefined) {
    throw new ConfigError(`backend ${backendName} has no encryption block in ${config.source}: there are no data keys to rotate`);
  }
  const masters = await loadMasterKeys(backend.encryption, `backends[${index}].encryption`);
  const next = await readMasterKeyFile(resolve(newMasterKeyFile), '--new-master-key-file');
  const loaded = await loadBackend(backend, index, config.pluginSearchPaths);
  const driver = loaded.plugin.create(loaded.options, { backendName, statePath: resolve(config.statePath, 'backends', backendName) });
  try {
    await runWithTimeout(`doSetup of backend ${backendName}`, config.initializationTimeoutMs, (signal) => driver.doSetup({ signal }));
    const result = await new ProjectKeyStore(driver, backendName, masters).rotate(next);
    return { backend: backendName, previousMasterKeyId: masters.current.id, newMasterKeyId: next.id, ...result };
  } finally {
    await driver.close?.();
  }
}
