import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The repository guard: every packages/driver-* has the same shape, so a newcomer who has read one has read all.
const packagesDir = new URL('../../', import.meta.url).pathname;
// The driver kit's two packages share the prefix but are libraries drivers build on, not drivers.
const DRIVER_KIT = new Set(['driver-contract', 'driver-utils']);
const drivers = readdirSync(packagesDir).filter(
  (name) => name.startsWith('driver-') && !DRIVER_KIT.has(name) && existsSync(join(packagesDir, name, 'package.json')),
);

describe('driver packages share one shape', () => {
  it('finds the drivers', () => {
    expect(drivers).toContain('driver-posix');
  });

  it('keeps the driver kit free of runtime dependencies beyond the contract', () => {
    const manifestOf = (folder: string) =>
      JSON.parse(readFileSync(join(packagesDir, folder, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(manifestOf('driver-contract').dependencies ?? {}).toEqual({});
    expect(manifestOf('driver-utils').dependencies ?? {}).toEqual({ '@stowage/driver-contract': 'workspace:*' });
  });

  describe.each(drivers)('%s', (folder) => {
    const dir = join(packagesDir, folder);
    const backend = folder.slice('driver-'.length);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown> & {
      scripts?: Record<string, string>;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };

    it('has the standard files', () => {
      for (const file of [
        'src/index.ts',
        `src/${backend}-store.ts`,
        `src/${backend}-config.ts`,
        `src/${backend}-errors.ts`,
        'test/contract.test.ts',
        'README.md',
        'tsconfig.json',
        'tsconfig.build.json',
      ]) {
        expect(existsSync(join(dir, file)), `${folder}/${file}`).toBe(true);
      }
    });

    it('is an ESM package of the @stowage scope with build and test scripts', () => {
      expect(manifest.name).toBe(`@stowage/${folder}`);
      expect(manifest.type).toBe('module');
      expect(manifest.scripts?.build).toBeDefined();
      expect(manifest.scripts?.test).toContain('--outputFile.json=test-results.json');
      expect(manifest.devDependencies?.['@stowage/testkit']).toBe('workspace:*');
    });

    it('builds on the contract and driver-utils packages, not on core', () => {
      expect(manifest.dependencies?.['@stowage/driver-contract']).toBe('workspace:*');
      expect(manifest.dependencies?.['@stowage/driver-utils']).toBe('workspace:*');
      // Core brings the engine, the lifecycle and the native zstd addon: a driver needs none of them at run time.
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
        expect(manifest[field]?.['@stowage/core'], `${folder} ${field}`).toBeUndefined();
      }
      for (const file of readdirSync(join(dir, 'src'), { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.ts'))) {
        expect(readFileSync(join(dir, 'src', file), 'utf8'), `${folder}/src/${file}`).not.toMatch(/from '@stowage\/core(\/[^']*)?'/);
      }
    });

    it('exports a stowage.driver/v1 plugin as its default export', () => {
      const index = readFileSync(join(dir, 'src/index.ts'), 'utf8');
      expect(index).toMatch(/defineDriverPlugin/);
      expect(index).toMatch(/DRIVER_CONTRACT_V1/);
      expect(index).toMatch(/export default/);
    });

    it('runs the shared contract suite', () => {
      expect(readFileSync(join(dir, 'test/contract.test.ts'), 'utf8')).toMatch(/runDriverContractSuite\(/);
    });

    it('runs the shared fault suite', () => {
      expect(existsSync(join(dir, 'test/faults.test.ts')), `${folder}/test/faults.test.ts`).toBe(true);
      expect(readFileSync(join(dir, 'test/faults.test.ts'), 'utf8')).toMatch(/runDriverFaultSuite\(/);
    });

    it('documents its options, an example backend and what doSetup checks', () => {
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      expect(readme).toMatch(/^## Options/m);
      expect(readme).toMatch(/backends:\s*\n\s*- name:/);
      expect(readme).toMatch(/doSetup/);
    });
  });
});
