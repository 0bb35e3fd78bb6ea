import { describe, expect, it } from 'vitest';
import { ConfigError } from '@stowage/core';
import { embeddedDefaultConfig, isLoopback, resolveConfig } from '../src/config/load-config.js';

const where = { baseDir: '/etc/stowage', source: '/etc/stowage/stowage.yaml' };
const backend = { name: 'p', driver: '@stowage/driver-posix', options: { path: '/srv/b' } };

function configError(raw: unknown): ConfigError {
  try {
    resolveConfig(raw, where);
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('fills Cinder defaults and resolves paths against the config folder', () => {
    const config = resolveConfig({ backends: [backend] }, where);
    expect(config).toMatchObject({
      storageAvailabilityZone: 'nova',
      reportIntervalMs: 10_000,
      serviceDownTimeMs: 60_000,
      periodicIntervalMs: 60_000,
      periodicInitialization: false,
      initializationTimeoutMs: 60_000,
      maxOperations: 15,
      statePath: '/etc/stowage/data',
      databaseUrl: 'sqlite:/etc/stowage/data/stowage.sqlite',
      listenHost: '127.0.0.1',
      listenPort: 8776,
      volumesDir: '/etc/stowage/data/volumes',
      pluginSearchPaths: ['/etc/stowage'],
    });
  });

  it('names every bad field in one error', () => {
    const error = configError({
      report_interval: 0,
      backup_max_operations: -1,
      backup_compression_algorithm: 'lz4',
      database_url: 'mysql://x',
      notifications: [{ type: 'webhook', url: 'ftp://x' }, { type: 'carrier-pigeon' }],
      backends: [backend, { ...backend, options: {} }],
    });
    expect(error.code).toBe('CONFIG');
    expect(error.issues.map((issue) => issue.path).sort()).toEqual([
      'backends[1].name',
      'backup_compression_algorithm',
      'backup_max_operations',
      'database_url',
      'notifications[0].url',
      'notifications[1].type',
      'report_interval',
    ]);
    expect(error.message).toContain('/etc/stowage/stowage.yaml');
  });

  it('requires at least one backend', () => {
    expect(configError({}).issues.map((issue) => issue.path)).toEqual(['backends']);
  });

  it('raises service_down_time as Cinder does when it is not above report_interval', () => {
    const config = resolveConfig({ report_interval: 4, service_down_time: 3, backends: [backend] }, where);
    expect(config.serviceDownTimeMs).toBe(10_000);
    expect(config.warnings[0]).toMatch(/using 10 as Cinder does/);
  });

  it('refuses noauth off loopback unless forced', () => {
    expect(configError({ listen: '10.0.0.1:8776', backends: [backend] }).issues[0]!.path).toBe('listen');
    expect(resolveConfig({ listen: '10.0.0.1:8776', allow_noauth_on_non_loopback: true, backends: [backend] }, where).listenHost).toBe('10.0.0.1');
    expect(resolveConfig({ listen: '[::1]:9000', backends: [backend] }, where)).toMatchObject({ listenHost: '::1', listenPort: 9000 });
    expect(isLoopback('127.0.0.2')).toBe(true);
    expect(isLoopback('0.0.0.0')).toBe(false);
  });

  it('the embedded default: SQLite and posix under the state folder, periodic initialisation on', () => {
    const config = embeddedDefaultConfig('/var/tmp/stowage');
    expect(config).toMatchObject({ databaseUrl: 'sqlite:/var/tmp/stowage/stowage.sqlite', periodicInitialization: true, listenPort: 8776 });
    expect(config.backends[0]).toMatchObject({ driver: '@stowage/driver-posix', options: { path: '/var/tmp/stowage/backups' } });
  });
});

describe('auth and quota options', () => {
  it('tokens needs auth_tokens_file, resolved against the config folder; tokens may listen beyond loopback', () => {
    expect(configError({ auth_strategy: 'tokens', backends: [backend] }).message).toContain('auth_tokens_file: auth_strategy tokens needs auth_tokens_file');
    const config = resolveConfig({ auth_strategy: 'tokens', auth_tokens_file: 'tokens.yaml', listen: '0.0.0.0:8776', backends: [backend] }, where);
    expect(config).toMatchObject({ authStrategy: 'tokens', authTokensFile: '/etc/stowage/tokens.yaml', quotaBackups: 10, quotaBackupGigabytes: 1000 });
    expect(configError({ auth_strategy: 'keystone', backends: [backend] }).message).toContain('auth_strategy');
    expect(configError({ quota_backups: -2, backends: [backend] }).message).toContain('quota_backups');
  });
});
