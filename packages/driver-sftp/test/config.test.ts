import { describe, expect, it } from 'vitest';
import plugin from '../src/index.js';
import { fingerprintOf } from '../src/index.js';

const FINGERPRINT = 'SHA256:n2XbfyBkn8H4JjEMrwEII9rGo8gCclzkjgT38tLMNOI';
const base = { host: 'backup.example.org', username: 'stowage', private_key_path: '/etc/stowage/key', host_key_fingerprint: FINGERPRINT };

async function issues(options: Record<string, unknown>): Promise<string[]> {
  const result = await plugin.optionsSchema['~standard'].validate(options);
  return (result.issues ?? []).map((issue) => `${(issue.path ?? []).map(String).join('.')}: ${issue.message}`);
}

describe('sftp options', () => {
  it('accepts a minimal config and fills the defaults', async () => {
    const result = await plugin.optionsSchema['~standard'].validate(base);
    expect(result.issues).toBeUndefined();
    expect(result.issues ? undefined : result.value).toMatchObject({ port: 22, path: '.', container: 'volumebackups', pool_size: 4, create_container: true });
  });

  it('requires a host key fingerprint unless the check is explicitly turned off', async () => {
    const { host_key_fingerprint: _omitted, ...unpinned } = base;
    expect((await issues(unpinned)).join('\n')).toMatch(/^host_key_fingerprint: host_key_fingerprint is required .*ssh-keygen -l -E sha256/);
    expect(await issues({ ...unpinned, insecure_skip_host_key_check: true })).toEqual([]);
    expect((await issues({ ...base, host_key_fingerprint: 'aa:bb:cc' })).join('\n')).toMatch(/host_key_fingerprint: host_key_fingerprint must look like SHA256:/);
  });

  it('needs exactly one key source, and names unknown fields', async () => {
    const { private_key_path: _omitted, ...keyless } = base;
    expect((await issues(keyless)).join('\n')).toMatch(/private_key_path: give exactly one of private_key_path .* or private_key_env/);
    expect((await issues({ ...base, private_key_env: 'KEY' })).join('\n')).toMatch(/give exactly one/);
    expect((await issues({ ...base, password: 'x' })).join('\n')).toMatch(/password/);
  });

  it('prints fingerprints the way ssh-keygen does (SHA256, base64 without padding)', () => {
    expect(fingerprintOf(Buffer.from('abc'))).toBe('SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0');
  });
});
