/** The options schema: Cinder-like defaults, and every bad field named. No server needed. */
import { validateOptions } from '@stowage/core';
import { describe, expect, it } from 'vitest';
import plugin from '../src/index.js';

describe('swift options', () => {
  it('applies Cinder-like defaults', async () => {
    const options = await validateOptions(plugin.optionsSchema, { auth_url: 'http://127.0.0.1:8080/auth/v1.0', user: 'a:b', key: 'k' }, 'backends[0].options');
    expect(options).toMatchObject({
      auth_version: '1',
      container: 'volumebackups',
      create_container: true,
      retry_attempts: 3,
      retry_backoff: 2,
      timeout: 60,
    });
  });

  it('names every bad field in one error', async () => {
    const error = await validateOptions(plugin.optionsSchema, { auth_url: 'ftp://x', container: 'a/b', retries: 3 }, 'backends[1].options').then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error?.message).toContain('backends[1].options.auth_url');
    expect(error?.message).toContain('backends[1].options.container');
    expect(error?.message).toMatch(/retries/);
  });

  it('requires credentials matching the auth version', async () => {
    const v1 = await plugin.optionsSchema['~standard'].validate({ auth_url: 'http://h/auth/v1.0' });
    expect(v1.issues?.map((issue) => issue.path?.join('.'))).toEqual(expect.arrayContaining(['user', 'key']));
    const v3 = await plugin.optionsSchema['~standard'].validate({ auth_url: 'http://h:5000/v3', auth_version: '3', user: 'u', key: 'p' });
    expect(v3.issues?.map((issue) => issue.path?.join('.'))).toEqual(['project_name']);
  });

  it('is a stowage.driver/v1 plugin', () => {
    expect(plugin.contract).toBe('stowage.driver/v1');
    expect(plugin.name).toBe('swift');
    expect(plugin.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});
