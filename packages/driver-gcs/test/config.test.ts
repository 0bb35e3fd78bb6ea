/** The options schema: defaults, every bad field named with its fix. No server needed. */
import { validateOptions } from '@stowage/core';
import { describe, expect, it } from 'vitest';
import plugin from '../src/index.js';

const problems = async (options: Record<string, unknown>) => {
  const result = await plugin.optionsSchema['~standard'].validate(options);
  return (result.issues ?? []).map((issue) => `${issue.path?.join('.')}: ${issue.message}`);
};

describe('gcs options', () => {
  it('applies defaults: least privilege (no bucket creation), single-request objects, MD5 on uploads', async () => {
    const options = await validateOptions(plugin.optionsSchema, {}, 'backends[0].options');
    expect(options).toMatchObject({
      bucket: 'volumebackups',
      create_bucket: false,
      anonymous: false,
      object_prefix: '',
      checksum: 'md5',
      timeout: 60,
      retry_attempts: 4,
      max_object_size: 128 * 1024 * 1024,
    });
  });

  it('names every bad field in one error', async () => {
    const error = await validateOptions(plugin.optionsSchema, { bucket: 'Bad_Bucket!', api_endpoint: 'ftp://x', checksum: 'sha1', extra: 1 }, 'backends[2].options').then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    for (const field of ['bucket', 'api_endpoint', 'checksum']) expect(error?.message).toContain(`backends[2].options.${field}`);
    expect(error?.message).toMatch(/extra/);
  });

  it('uses storage_class and location only when creating the bucket, and says so', async () => {
    expect(await problems({ storage_class: 'NEARLINE', location: 'EU' })).toEqual([
      'storage_class: is only used when creating the bucket: set create_bucket: true or remove it',
      'location: is only used when creating the bucket: set create_bucket: true or remove it',
    ]);
    expect(await problems({ storage_class: 'NEARLINE', location: 'EU', create_bucket: true })).toEqual([]);
  });

  it('takes either a key file or no credentials, and no credentials only with an endpoint', async () => {
    expect(await problems({ anonymous: true, credentials_file: '/k.json', api_endpoint: 'http://127.0.0.1:1' })).toEqual([
      'anonymous: anonymous and credentials_file exclude each other: pick one',
    ]);
    expect(await problems({ anonymous: true })).toEqual([
      'anonymous: is for emulators: set api_endpoint too (Google Cloud Storage itself needs credentials)',
    ]);
  });

  it('never puts the key into messages: a key file that cannot be read names the option', async () => {
    const result = await plugin.optionsSchema['~standard'].validate({ credentials_file: '/nonexistent/key.json', api_endpoint: 'http://127.0.0.1:1' });
    if (result.issues) throw new Error('unexpected issues');
    const driver = plugin.create(result.value, { backendName: 'gcs-config', statePath: '/nonexistent' });
    const error = await driver.doSetup().then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error?.name).toBe('DriverSetupError');
    expect(error?.message).toMatch(/^gcs backend gcs-config: setup failed: reading credentials_file \/nonexistent\/key\.json failed/);
  });
});
