/**
 * Per-project data keys of one backend, wrapped under its master key and stored on the backend itself, in its
 * default container at `stowage-keys/<project id>/<key id>`: a restore on another host, or after `import_record`,
 * finds the key where the backup is, and needs only the master key (docs/format.md, docs/encryption.md).
 *
 * Wrapping is AES-256-GCM under the master key with associated data binding the project, the key id and the
 * master key's id: a wrapped key copied under another project or key id does not unwrap. Unwrapped keys are
 * cached for the life of the process (they are needed for every backup and restore of the project).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  EncryptionKeyError,
  KEY_BYTES,
  NotFoundError,
  open,
  seal,
  type ObjectEncryption,
  type StorageDriver,
} from '@stowage/core';
import type { MasterKey, MasterKeys } from './master-keys.js';

export const DATA_KEY_FORMAT = 'stowage.data-key/v1';
export const KEYS_PREFIX = 'stowage-keys/';
const MAX_KEY_OBJECT_BYTES = 64 * 1024;

/** The stored object (JSON). Holds no secret in the clear. */
export interface WrappedDataKey {
  readonly format: typeof DATA_KEY_FORMAT;
  readonly projectId: string;
  readonly keyId: string;
  /** Id (fingerprint) of the master key that wraps it. */
  readonly masterKeyId: string;
  readonly algorithm: 'aes-256-gcm';
  /** base64 of nonce || ciphertext || tag. */
  readonly wrapped: string;
  readonly createdAt: string;
}

export function dataKeyObjectName(projectId: string, keyId: string): string {
  return `${KEYS_PREFIX}${encodeURIComponent(projectId)}/${keyId}`;
}

function wrapAad(projectId: string, keyId: string, masterKeyId: string): Buffer {
  return Buffer.from(`${DATA_KEY_FORMAT}\0${projectId}\0${keyId}\0${masterKeyId}`, 'utf8');
}

export function wrapDataKey(master: MasterKey, projectId: string, keyId: string, key: Uint8Array, createdAt = new Date()): WrappedDataKey {
  return {
    format: DATA_KEY_FORMAT,
    projectId,
    keyId,
    masterKeyId: master.id,
    algorithm: 'aes-256-gcm',
    wrapped: seal(master.key, wrapAad(projectId, keyId, master.id), key).toString('base64'),
    createdAt: createdAt.toISOString(),
  };
}

export class ProjectKeyStore {
  readonly #driver: StorageDriver;
  readonly #backendName: string;
  #masters: MasterKeys;
  /** keyId -> unwrapped key; projectId -> the key new backups use. */
  readonly #byId = new Map<string, Promise<ObjectEncryption>>();
  readonly #current = new Map<string, Promise<ObjectEncryption>>();

  constructor(driver: StorageDriver, backendName: string, masters: MasterKeys) {
    this.#driver = driver;
    this.#backendName = backendName;
    this.#masters = masters;
  }

  get container(): string {
    return this.#driver.defaultContainer;
  }

  /** The data key new backups of `projectId` use: the project's first readable key, or a new one. */
  keyForNewBackup(projectId: string): Promise<ObjectEncryption> {
    let pending = this.#current.get(projectId);
    if (pending === undefined) {
      pending = this.#findOrCreate(projectId);
      pending.catch(() => this.#current.delete(projectId));
      this.#current.set(projectId, pending);
    }
    return pending;
  }

  /** The data key `keyId` of `projectId` (a backup row's encryption_key_id). EncryptionKeyError naming it when unusable. */
  key(projectId: string, keyId: string): Promise<ObjectEncryption> {
    const cacheKey = `${projectId}\0${keyId}`;
    let pending = this.#byId.get(cacheKey);
    if (pending === undefined) {
      pending = this.#read(projectId, keyId);
      pending.catch(() => this.#byId.delete(cacheKey));
      this.#byId.set(cacheKey, pending);
    }
    return pending;
  }

  async #findOrCreate(projectId: string): Promise<ObjectEncryption> {
    const prefix = `${KEYS_PREFIX}${encodeURIComponent(projectId)}/`;
    const names: string[] = [];
    for await (const name of this.#driver.listObjects(this.container, prefix)) names.push(name);
    for (const name of names.sort()) {
      const keyId = name.slice(prefix.length);
      const usable = await this.key(projectId, keyId).catch(() => undefined);
      if (usable !== undefined) return usable;
    }
    const keyId = randomUUID();
    const key = randomBytes(KEY_BYTES);
    await this.#write(wrapDataKey(this.#masters.current, projectId, keyId, key));
    const created = { keyId, key };
    this.#byId.set(`${projectId}\0${keyId}`, Promise.resolve(created));
    return created;
  }

  async #write(wrapped: WrappedDataKey): Promise<void> {
    await this.#driver.ensureContainer(this.container);
    const bytes = Buffer.from(JSON.stringify(wrapped));
    await this.#driver.putObject(this.container, dataKeyObjectName(wrapped.projectId, wrapped.keyId), bytes, { length: bytes.length });
  }

  async #fetch(projectId: string, keyId: string): Promise<WrappedDataKey> {
    const name = dataKeyObjectName(projectId, keyId);
    const where = `data key ${keyId} of project ${projectId} (${this.container}/${name} on backend ${this.#backendName})`;
    const details = { backend: this.#backendName, container: this.container, object: name };
    let text: string;
    try {
      const parts: Buffer[] = [];
      let total = 0;
      for await (const part of await this.#driver.getObject(this.container, name)) {
        total += part.length;
        if (total > MAX_KEY_OBJECT_BYTES) throw new EncryptionKeyError(`${where} is not a data key object (too large)`, keyId, details);
        parts.push(Buffer.from(part));
      }
      text = Buffer.concat(parts).toString('utf8');
    } catch (error) {
      if (NotFoundError.isInstance(error)) {
        throw new EncryptionKeyError(`${where} is missing: the backup cannot be decrypted without it`, keyId, { ...details, cause: error });
      }
      throw error;
    }
    let wrapped: WrappedDataKey;
    try {
      wrapped = JSON.parse(text) as WrappedDataKey;
    } catch (cause) {
      throw new EncryptionKeyError(`${where} is not valid JSON`, keyId, { ...details, cause });
    }
    if (wrapped.format !== DATA_KEY_FORMAT || wrapped.projectId !== projectId || wrapped.keyId !== keyId || typeof wrapped.wrapped !== 'string') {
      throw new EncryptionKeyError(`${where} does not describe data key ${keyId} of project ${projectId}`, keyId, details);
    }
    return wrapped;
  }

  async #read(projectId: string, keyId: string): Promise<ObjectEncryption> {
    let wrapped: WrappedDataKey;
    try {
      wrapped = await this.#fetch(projectId, keyId);
    } catch (error) {
      // An imported record's backup keeps the key of the project that wrote it: look for it under every project.
      const elsewhere = EncryptionKeyError.isInstance(error) && NotFoundError.isInstance(error.cause) ? await this.#ownerOf(keyId) : undefined;
      if (elsewhere === undefined) throw error;
      wrapped = await this.#fetch(elsewhere, keyId);
    }
    return { keyId, key: this.#unwrap(wrapped) };
  }

  async #ownerOf(keyId: string): Promise<string | undefined> {
    for await (const name of this.#driver.listObjects(this.container, KEYS_PREFIX)) {
      const [projectPart, id] = name.slice(KEYS_PREFIX.length).split('/');
      if (id === keyId && projectPart !== undefined) return decodeURIComponent(projectPart);
    }
    return undefined;
  }

  #unwrap(wrapped: WrappedDataKey): Buffer {
    const { projectId, keyId } = wrapped;
    const details = { backend: this.#backendName, container: this.container, object: dataKeyObjectName(projectId, keyId) };
    const master = [this.#masters.current, ...this.#masters.previous].find((candidate) => candidate.id === wrapped.masterKeyId);
    if (master === undefined) {
      throw new EncryptionKeyError(
        `data key ${keyId} of project ${projectId} on backend ${this.#backendName} is wrapped by master key ${wrapped.masterKeyId}, which is not configured (configured: ${this.#configuredIds()}): set it as the backend's encryption.master_key_file or list it in previous_master_key_files`,
        keyId,
        details,
      );
    }
    const key = open(master.key, wrapAad(projectId, keyId, master.id), Buffer.from(wrapped.wrapped, 'base64'));
    if (key === undefined || key.length !== KEY_BYTES) {
      throw new EncryptionKeyError(`data key ${keyId} of project ${projectId} on backend ${this.#backendName} does not unwrap under master key ${master.id}: the key object was altered`, keyId, details);
    }
    return key;
  }

  #configuredIds(): string {
    return [this.#masters.current, ...this.#masters.previous].map((master) => master.id).join(', ');
  }

  /**
   * Re-wrap every data key on the backend under `next` (which becomes current), without touching any backup
   * object. Keys already under `next` are left as they are, so an interrupted rotation can be run again.
   */
  async rotate(next: MasterKey): Promise<{ rewrapped: number; unchanged: number; failed: Array<{ object: string; reason: string }> }> {
    const names: string[] = [];
    for await (const name of this.#driver.listObjects(this.container, KEYS_PREFIX)) names.push(name);
    const result = { rewrapped: 0, unchanged: 0, failed: [] as Array<{ object: string; reason: string }> };
    const masters: MasterKeys = { current: next, previous: [this.#masters.current, ...this.#masters.previous] };
    this.#masters = masters;
    for (const name of names.sort()) {
      const [projectPart, keyId] = name.slice(KEYS_PREFIX.length).split('/');
      if (projectPart === undefined || keyId === undefined) continue;
      const projectId = decodeURIComponent(projectPart);
      try {
        const wrapped = await this.#fetch(projectId, keyId);
        if (wrapped.masterKeyId === next.id) {
          result.unchanged += 1;
          continue;
        }
        const key = this.#unwrap(wrapped);
        await this.#write(wrapDataKey(next, projectId, keyId, key, new Date(wrapped.createdAt)));
        result.rewrapped += 1;
      } catch (error) {
        result.failed.push({ object: name, reason: (error as Error).message });
      }
    }
    return result;
  }
}
