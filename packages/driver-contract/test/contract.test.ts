import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  ConfigError,
  DRIVER_CONTRACT_V1,
  DriverSetupError,
  NotFoundError,
  StorageUnavailableError,
  StowageError,
  bodyParts,
  defineDriverPlugin,
  describeError,
  noSetupNeeded,
  throwIfAborted,
  validateOptions,
  type OptionsSchema,
  type StorageDriver,
} from '../src/index.js';

async function collect(parts: AsyncIterable<Uint8Array>): Promise<number[]> {
  const out: number[] = [];
  for await (const part of parts) out.push(...part);
  return out;
}

describe('typed errors', () => {
  it('carry a stable code, the details and the cause', () => {
    const cause = new Error('ENOENT');
    const error = new NotFoundError('gone', { cause, backend: 'b', container: 'c', object: 'o' });
    expect(error).toMatchObject({ code: 'NOT_FOUND', name: 'NotFoundError', backend: 'b', container: 'c', object: 'o' });
    expect(error.cause).toBe(cause);
    expect(NotFoundError.isInstance(error)).toBe(true);
    expect(StorageUnavailableError.isInstance(error)).toBe(false);
    expect(StowageError.isInstance(error)).toBe(true);
  });

  it('are recognised across copies by the global symbol and the code', () => {
    // What another copy of this package throws: same global symbol and code, a different class.
    const foreign = Object.assign(new Error('other copy'), { [Symbol.for('stowage.error')]: true, code: 'DRIVER_SETUP' });
    expect(DriverSetupError.isInstance(foreign)).toBe(true);
    expect(NotFoundError.isInstance(foreign)).toBe(false);
    expect(StowageError.isStowageError(new Error('plain'))).toBe(false);
  });

  it('describeError appends a plain error code, not a Stowage code', () => {
    expect(describeError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe('refused (ECONNREFUSED)');
    expect(describeError(new DriverSetupError('setup failed'))).toBe('setup failed');
    expect(describeError('text')).toBe('text');
  });

  it('throwIfAborted throws an AbortedError carrying the reason', () => {
    const controller = new AbortController();
    expect(() => throwIfAborted(controller.signal, 'put x')).not.toThrow();
    controller.abort('stop');
    let caught: unknown;
    try {
      throwIfAborted(controller.signal, 'put x');
    } catch (error) {
      caught = error;
    }
    expect(AbortedError.isInstance(caught)).toBe(true);
    expect((caught as Error).message).toBe('put x was cancelled');
    expect((caught as Error).cause).toBe('stop');
  });
});

describe('validateOptions', () => {
  const schema: OptionsSchema<{ path: string }> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value) =>
        typeof (value as { path?: unknown }).path === 'string'
          ? { value: value as { path: string } }
          : { issues: [{ message: 'required', path: ['path'] }, { message: 'bad', path: [{ key: 'list' }, 2] }] },
    },
  };

  it('returns the validated value', async () => {
    expect(await validateOptions(schema, { path: '/x' }, 'backends[0].options')).toEqual({ path: '/x' });
  });

  it('names every bad field in one ConfigError', async () => {
    const error = await validateOptions(schema, {}, 'backends[1].options').catch((e: unknown) => e);
    expect((error as ConfigError).code).toBe('CONFIG');
    expect((error as ConfigError).issues.map((issue) => issue.path)).toEqual(['backends[1].options.path', 'backends[1].options.list[2]']);
    expect((error as Error).message).toContain('backends[1].options.path: required');
  });
});

describe('plugin helpers', () => {
  it('bodyParts iterates bytes and streams alike', async () => {
    expect(await collect(bodyParts(new Uint8Array([1, 2])))).toEqual([1, 2]);
    const stream = (async function* () {
      yield new Uint8Array([3]);
      yield new Uint8Array([4, 5]);
    })();
    expect(await collect(bodyParts(stream))).toEqual([3, 4, 5]);
  });

  it('defineDriverPlugin returns the plugin as given, for the v1 contract', async () => {
    const schema: OptionsSchema<object> = { '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value: value as object }) } };
    const plugin = defineDriverPlugin({
      contract: DRIVER_CONTRACT_V1,
      name: 'none',
      version: '1.0.0',
      optionsSchema: schema,
      create: () => ({ doSetup: noSetupNeeded }) as unknown as StorageDriver,
    });
    expect(plugin.contract).toBe('stowage.driver/v1');
    await expect(plugin.create({}, { backendName: 'b', statePath: '/tmp' }).doSetup()).resolves.toBeUndefined();
  });
});
