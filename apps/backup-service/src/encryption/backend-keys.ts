import type { LoadedBackend } from '../plugins/plugin-loader.js';
import { loadMasterKeys, type MasterKeys } from './master-keys.js';

/** The master keys of every backend with an `encryption` block, by backend index. */
export async function loadBackendMasterKeys(backends: readonly LoadedBackend[]): Promise<ReadonlyMap<number, MasterKeys>> {
  const keys = new Map<number, MasterKeys>();
  for (const backend of backends) {
    const encryption = backend.config.encryption;
    if (encryption !== undefined) keys.set(backend.index, await loadMasterKeys(encryption, `backends[${backend.index}].encryption`));
  }
  return keys;
}
