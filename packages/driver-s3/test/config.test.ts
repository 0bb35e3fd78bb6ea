/** The options schema and client set-up: Cinder-like defaults, every bad field named. No server needed. */
import { validateOptions } from '@stowage/core';
import { describe, expect, it } from 'vitest';
import plugin, { type S3Store } from '../src/index.js';

describe('s3 options', () => {
  it('applies Cinder-like defaults', async () => {
    const options = await validateOptions(plugin.optionsSchema, { endpoint: 'http://127.0.0.1:9000' }, 'backends[0].options');
    expect(options).toMatchObject({ bucket: 'volumebackups', create_bucket: true, timeout: 60, retry_max_attempts: 4, md5_validation: true });
  });

  it('names every bad field in one error', async () => {
    const error = await validateOptions(
      plugin.optionsSchema,
      { endpoint: 'not a url', access_key: 'a', sse: 'rot13', multipart_part_size: 1024 },
      'backends[2].options',
    ).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    for (const field of ['endpoint', 'sse', 'multipart_part_size']) expect(error?.message).toContain(`backends[2].options.${field}`);
  });

  it('needs a secret with an access key, and one kind of encryption', async () => {
    const result = await plugin.optionsSchema['~standard'].validate({
      access_key: 'a',
      sse: 'AES256',
      sse_customer_key: Buffer.alloc(32).toString('base64'),
    });
    expect(result.issues?.map((issue) => issue.path?.join('.'))).toEqual(expect.arrayContaining(['secret_key', 'sse']));
  });

  it('asks the SDK for checksums only where required', async () => {
    const options = await validateOptions(plugin.optionsSchema, { endpoint: 'http://127.0.0.1:9000', force_path_style: true }, 'o');
    const store = plugin.create(options, { backendName: 'unit', statePath: '/nonexistent' }) as S3Store;
    expect(await store.client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    expect(await store.client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
    expect(store.client.config.forcePathStyle).toBe(true);
    await store.close();
  });

  it('is a stowage.driver/v1 plugin', () => {
    expect(plugin.contract).toBe('stowage.driver/v1');
    expect(plugin.name).toBe('s3');
    expect(plugin.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});
