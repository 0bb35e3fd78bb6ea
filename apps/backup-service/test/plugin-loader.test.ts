import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkPluginShape, loadBackend, resolvePackageEntry } from '../src/plugins/plugin-loader.js';
import { tempDir } from './helpers/service-process.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function fakePackage(root: string, name: string, manifest: Record<string, unknown>, files: Record<string, string>) {
  const dir = join(root, 'node_modules', ...name.split('/'));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', ...manifest }));
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), text);
  }
  return dir;
}

describe('resolvePackageEntry', () => {
  it('finds ESM-only packages (import condition) in the folder or an ancestor, scoped names too', async () => {
    const root = await tempDir('resolve');
    cleanups.push(root.remove);
    const dir = await fakePackage(root.path, '@acme/stowage-driver', { exports: { '.': { types: './x.d.ts', import: './dist/index.js' } } }, {});
    await mkdir(join(root.path, 'deploy', 'conf'), { recursive: true });
    expect(resolvePackageEntry('@acme/stowage-driver', [join(root.path, 'deploy', 'conf')])).toBe(join(dir, 'dist/index.js'));
    expect(resolvePackageEntry('@acme/other', [root.path])).toBeUndefined();
  });

  it('accepts a node_modules folder itself as a plugin path and falls back to main', async () => {
    const root = await tempDir('resolve2');
    cleanups.push(root.remove);
    const dir = await fakePackage(join(root.path, 'plugins'), 'legacy-driver', { main: 'main.js' }, {});
    expect(resolvePackageEntry('legacy-driver', [join(root.path, 'plugins', 'node_modules')])).toBe(join(dir, 'main.js'));
  });
});

describe('checkPluginShape', () => {
  const valid = {
    contract: 'stowage.driver/v1',
    name: 'x',
    version: '1',
    optionsSchema: { '~standard': { version: 1, vendor: 'x', validate: () => ({ value: {} }) } },
    create: () => undefined,
  };

  it('accepts a default export and a module namespace', () => {
    expect(checkPluginShape({ default: valid }, 'pkg', 'here').name).toBe('x');
    expect(checkPluginShape(valid, 'pkg', 'here').name).toBe('x');
  });

  it('names what is missing', () => {
    expect(() => checkPluginShape({ default: { contract: 'stowage.driver/v1' } }, 'pkg', 'backend "a"')).toThrow(
      'backend "a": package pkg claims stowage.driver/v1 but lacks: name (a non-empty string), version (a string), create (a function), optionsSchema',
    );
    expect(() => checkPluginShape({ default: { ...valid, contract: undefined } }, 'pkg', 'b')).toThrow(/implements driver contract null/);
  });

  it('loads a driver from a deployment folder and validates its options', async () => {
    const root = await tempDir('load');
    cleanups.push(root.remove);
    await fakePackage(root.path, 'folder-driver', { exports: './index.js' }, {
      'index.js': `export default { contract: 'stowage.driver/v1', name: 'folder', version: '3.1.4',
        optionsSchema: { '~standard': { version: 1, vendor: 't', validate: (v) => typeof v.root === 'string' ? { value: v } : { issues: [{ message: 'required', path: ['root'] }] } } },
        create() { return {}; } };`,
    });
    const backend = { name: 'f', driver: 'folder-driver', options: { root: '/x' } };
    const loaded = await loadBackend(backend, 0, [root.path]);
    expect(loaded.plugin.version).toBe('3.1.4');
    expect(loaded.resolvedFrom).toContain(join(root.path, 'node_modules', 'folder-driver'));
    await expect(loadBackend({ ...backend, options: {} }, 3, [root.path])).rejects.toThrow(/backend "f": driver package folder-driver rejected its options[\s\S]*backends\[3\]\.options\.root: required/);
  });
});
