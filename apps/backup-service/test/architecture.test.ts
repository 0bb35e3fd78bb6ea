/**
 * The app's layering, checked mechanically: imports point one way (api -> operations -> placement, manager, quota ->
 * db, domain), there are no import cycles, and exactly one module picks hosts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const files = sourceFiles(src);
const rel = (path: string) => relative(src, path);
/** Relative imports of each module (type-only ones too: they are dependencies of the design). */
const imports = new Map(
  files.map((file) => {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/(?:import|export)[^'";]*?from\s+['"](\.[^'"]+)['"]/g)].map((match) =>
      resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts')),
    );
    return [file, targets.filter((target) => files.includes(target))];
  }),
);

describe('app architecture', () => {
  it('finds the modules', () => {
    expect(files.length).toBeGreaterThan(30);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'open');
      stack.push(file);
      for (const target of imports.get(file) ?? []) {
        if (state.get(target) === 'open') cycles.push([...stack.slice(stack.indexOf(target)), target].map(rel).join(' -> '));
        else if (!state.has(target)) visit(target);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });

  it('no layer below the API imports from it', () => {
    const below = ['operations/', 'placement/', 'manager/', 'quota/', 'db/', 'domain/', 'notifications/', 'plugins/', 'observability/'];
    const offenders = files
      .filter((file) => below.some((folder) => rel(file).startsWith(folder)))
      .flatMap((file) => (imports.get(file) ?? []).filter((target) => rel(target).startsWith('api/')).map((target) => `${rel(file)} -> ${rel(target)}`));
    expect(offenders).toEqual([]);
  });

  it('routes call operations, never the store or the filesystem (a type from db/ is fine)', () => {
    const offenders = files
      .filter((file) => rel(file).startsWith('api/routes/'))
      .filter((file) => /^import (?!type )[^;]*from ['"](node:fs[^'"]*|\.\.\/\.\.\/db\/[^'"]*)['"]/m.test(readFileSync(file, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('one module picks hosts: only placement asks the store for up services', () => {
    const callers = files.filter((file) => /\.upServices\(/.test(readFileSync(file, 'utf8'))).map(rel);
    expect(callers).toEqual(['placement/placement.ts']);
  });
});
