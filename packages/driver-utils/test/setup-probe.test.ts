import { describe, expect, it } from 'vitest';
import { PROBE_PREFIX, objectProbe, runSetupProbe, type ProbeAccess } from '../src/index.js';

/** A probe target over a Map, with one step that can be made to fail. */
function mapAccess(fail?: { step: 'write' | 'read' | 'remove' | 'corrupt'; error?: Error }) {
  const objects = new Map<string, Uint8Array>();
  const calls: string[] = [];
  const access: ProbeAccess = {
    describe: (key) => `c/${key}`,
    async write(key, data) {
      calls.push('write');
      if (fail?.step === 'write') throw fail.error;
      objects.set(key, fail?.step === 'corrupt' ? Buffer.from('other') : data);
    },
    async read(key) {
      calls.push('read');
      if (fail?.step === 'read') throw fail.error;
      return objects.get(key)!;
    },
    async remove(key) {
      calls.push('remove');
      if (fail?.step === 'remove') throw fail.error;
      objects.delete(key);
    },
  };
  return { access, objects, calls };
}

const rethrowStep = (step: string, error: unknown) => new Error(`${step} failed: ${(error as Error).message}`, { cause: error });

describe('runSetupProbe', () => {
  it('writes, reads back, compares and deletes a probe under the reserved prefix', async () => {
    const { access, objects, calls } = mapAccess();
    let written = '';
    const spy: ProbeAccess = { ...access, write: (key, data, signal) => ((written = key), access.write(key, data, signal)) };
    await runSetupProbe(spy, { onFailure: rethrowStep });
    expect(calls).toEqual(['write', 'read', 'remove']);
    expect(written.startsWith(PROBE_PREFIX)).toBe(true);
    expect(objects.size).toBe(0);
  });

  it('names the failed step and keeps the error as given to onFailure', async () => {
    const cause = new Error('read-only filesystem');
    const { access } = mapAccess({ step: 'write', error: cause });
    const error = await runSetupProbe(access, { keyPrefix: '.tmp-probe-', onFailure: rethrowStep }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^writing the probe object c\/\.tmp-probe-[0-9a-f-]{36} failed: read-only filesystem$/);
    expect((error as Error).cause).toBe(cause);
  });

  it('deletes the probe after a failed read or a mismatch, and says which', async () => {
    const read = mapAccess({ step: 'read', error: new Error('denied') });
    const readError = await runSetupProbe(read.access, { onFailure: rethrowStep }).catch((e: unknown) => e);
    expect((readError as Error).message).toMatch(/^reading back the probe object c\/.* failed: denied$/);
    expect(read.calls).toEqual(['write', 'read', 'remove']);

    const corrupt = mapAccess({ step: 'corrupt' });
    const corruptError = await runSetupProbe(corrupt.access, { onFailure: rethrowStep }).catch((e: unknown) => e);
    expect((corruptError as Error).message).toMatch(/^comparing the probe object .* failed: read back 5 bytes that differ from the \d+ bytes written$/);
    expect(corrupt.objects.size).toBe(0);
  });

  it('reports a failed delete', async () => {
    const { access } = mapAccess({ step: 'remove', error: new Error('quota') });
    await expect(runSetupProbe(access, { onFailure: rethrowStep })).rejects.toThrow(/^deleting the probe object .* failed: quota$/);
  });
});

describe('objectProbe', () => {
  it('probes through a driver’s putObject, getObject and deleteObject in the container', async () => {
    const stored = new Map<string, Buffer>();
    const seen: string[] = [];
    const driver = {
      async putObject(container: string, key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options: { length: number; sha256?: string | undefined }) {
        seen.push(`put ${container}/${key} ${options.length} ${options.sha256?.length}`);
        stored.set(key, Buffer.from(body as Uint8Array));
      },
      async getObject(_container: string, key: string) {
        const data = stored.get(key)!;
        return (async function* () {
          yield data.subarray(0, 3);
          yield data.subarray(3);
        })();
      },
      async deleteObject(container: string, key: string) {
        seen.push(`delete ${container}/${key}`);
        stored.delete(key);
      },
    };
    await runSetupProbe(objectProbe(driver, 'bk'), { onFailure: rethrowStep });
    expect(seen[0]).toMatch(/^put bk\/\.stowage-probe\/\S+ \d+ 64$/);
    expect(seen[1]).toMatch(/^delete bk\/\.stowage-probe\//);
    expect(stored.size).toBe(0);
  });
});
