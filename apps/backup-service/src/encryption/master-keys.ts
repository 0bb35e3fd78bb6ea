/**
 * A backend's master keys (its `encryption` block): the current one wraps new project data keys, previous ones are
 * still accepted for unwrapping after a rotation. Keys are 32 random bytes in a file (raw or base64) or an
 * environment variable (base64); they are never logged, never rendered, and only their fingerprint id is stored.
 */
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError, KEY_BYTES } from '@stowage/core';

export interface MasterKey {
  /** A fingerprint, not the key: HMAC-SHA256 of a fixed label under the key, 16 hex digits. Stored with each wrapped key. */
  readonly id: string;
  readonly key: Buffer;
  /** Where it came from, for messages (a path or `$VARIABLE`, never the key). */
  readonly source: string;
}

export interface MasterKeys {
  readonly current: MasterKey;
  readonly previous: readonly MasterKey[];
}

/** The `encryption` block, paths made absolute. */
export interface EncryptionConfig {
  readonly master_key_file?: string | undefined;
  readonly master_key_env?: string | undefined;
  readonly previous_master_key_files: readonly string[];
}

export function masterKeyId(key: Uint8Array): string {
  return createHmac('sha256', key).update('stowage.master-key-id/v1').digest('hex').slice(0, 16);
}

const HOW = 'it must hold 32 random bytes, raw or base64 (e.g. `head -c 32 /dev/urandom | base64 > FILE`)';

/** 32 raw bytes, or their base64 (with or without a trailing newline). */
export function parseMasterKey(bytes: Buffer, field: string, source: string): MasterKey {
  let key: Buffer | undefined;
  if (bytes.length === KEY_BYTES) key = bytes;
  else {
    const text = bytes.toString('utf8').trim();
    if (/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
      const decoded = Buffer.from(text, 'base64');
      if (decoded.length === KEY_BYTES) key = decoded;
    }
  }
  if (key === undefined) {
    const message = `${source} holds ${bytes.length} bytes that are neither 32 raw bytes nor the base64 of 32 bytes: ${HOW}`;
    throw new ConfigError(`invalid master key: ${field}: ${message}`, [{ path: field, message }]);
  }
  return { id: masterKeyId(key), key: Buffer.from(key), source };
}

export async function readMasterKeyFile(path: string, field: string): Promise<MasterKey> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const message = `cannot read master key file ${path} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}): ${HOW}`;
    throw new ConfigError(`invalid master key: ${field}: ${message}`, [{ path: field, message }], { cause });
  }
  return parseMasterKey(bytes, field, path);
}

/** Load a backend's master keys; `field` is the config path of its encryption block, e.g. `backends[0].encryption`. */
export async function loadMasterKeys(config: EncryptionConfig, field: string): Promise<MasterKeys> {
  let current: MasterKey;
  if (config.master_key_file !== undefined) current = await readMasterKeyFile(config.master_key_file, `${field}.master_key_file`);
  else {
    const name = config.master_key_env!;
    const value = process.env[name];
    if (!value) {
      const message = `environment variable ${name} is not set or empty: ${HOW}`;
      throw new ConfigError(`invalid master key: ${field}.master_key_env: ${message}`, [{ path: `${field}.master_key_env`, message }]);
    }
    current = parseMasterKey(Buffer.from(value), `${field}.master_key_env`, `$${name}`);
  }
  const previous: MasterKey[] = [];
  for (const [index, path] of config.previous_master_key_files.entries()) {
    previous.push(await readMasterKeyFile(path, `${field}.previous_master_key_files[${index}]`));
  }
  return { current, previous };
}
