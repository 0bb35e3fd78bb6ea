/**
 * The steps a hostile run is made of, as plain data (so fast-check prints and shrinks them), and their generators.
 * Resources are named by `ref`: an index into the model's list of what was created so far (modulo its length), so a
 * shrunk sequence still points at something.
 */
import fc from 'fast-check';
import type { Actor } from './hostile-harness.js';

export type UrlProject = 'own' | 'other' | 'none';

interface Caller {
  readonly actor: Actor;
  readonly url: UrlProject;
  /** The OpenStack-API-Version header, undefined for none. */
  readonly version: string | undefined;
}

/** A resource: one the model knows (`ref`), or an id it never handed out. */
export type Target = { readonly ref: number } | { readonly bogus: string };

export type Step =
  | ({ readonly kind: 'createVolume'; readonly size: unknown; readonly name: unknown; readonly fromBackup: Target | undefined } & Caller)
  | { readonly kind: 'writeVolume'; readonly volume: number; readonly offset: number; readonly length: number; readonly seed: number }
  | ({ readonly kind: 'createBackup'; readonly volume: Target; readonly fields: Record<string, unknown> } & Caller)
  | ({ readonly kind: 'listBackups'; readonly detail: boolean; readonly query: string } & Caller)
  | ({ readonly kind: 'showBackup'; readonly backup: Target } & Caller)
  | ({ readonly kind: 'updateBackup'; readonly backup: Target; readonly fields: Record<string, unknown> } & Caller)
  | ({ readonly kind: 'deleteBackup'; readonly backup: Target } & Caller)
  | ({ readonly kind: 'restoreBackup'; readonly backup: Target; readonly into: Target | 'new'; readonly name: unknown } & Caller)
  | ({ readonly kind: 'resetStatus'; readonly backup: Target; readonly status: unknown } & Caller)
  | ({ readonly kind: 'forceDelete'; readonly backup: Target } & Caller)
  | ({ readonly kind: 'exportImport'; readonly backup: Target; readonly tamper: 'none' | 'new-id' | 'size' | 'foreign-parent' | 'garbage' } & Caller)
  | ({ readonly kind: 'extendVolume'; readonly volume: Target; readonly newSize: unknown } & Caller)
  | ({ readonly kind: 'deleteVolume'; readonly volume: Target } & Caller)
  | ({ readonly kind: 'listVolumes'; readonly detail: boolean } & Caller)
  | ({ readonly kind: 'services'; readonly action: 'list' | 'disable' | 'enable' } & Caller)
  | ({ readonly kind: 'malformed'; readonly method: string; readonly path: string; readonly raw: string } & Caller)
  | { readonly kind: 'tamperCopy'; readonly from: number; readonly to: number }
  | { readonly kind: 'hold' }
  | { readonly kind: 'release' }
  | { readonly kind: 'settle' }
  | { readonly kind: 'restart'; readonly crash: boolean };

const VALID_VERSIONS = ['volume 3.70', 'volume 3.70', 'volume latest', 'volume 3.0', 'volume 3.9', 'volume 3.43', 'volume 3.47', 'volume 3.51', 'volume 3.64'];
const BAD_VERSIONS = ['volume 3.71', 'volume 4.0', 'volume 2.0', 'volume 3.x', 'volume', 'compute 3.5', 'volume 3.', 'volume 03.070', 'volume 3.9999999999999999999'];

const versionArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 16, arbitrary: fc.constantFrom(...VALID_VERSIONS) },
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_VERSIONS) },
);

const actorArb = fc.constantFrom<Actor>('a', 'a', 'b', 'b', 'admin');
const urlArb = fc.oneof({ weight: 18, arbitrary: fc.constant<UrlProject>('own') }, { weight: 1, arbitrary: fc.constant<UrlProject>('other') }, { weight: 1, arbitrary: fc.constant<UrlProject>('none') });
const callerArb = fc.record({ actor: actorArb, url: urlArb, version: versionArb });

const BOGUS_IDS = ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', '..%2F..%2Fetc', 'x'.repeat(300), '%00', 'ZZZZZZZZ-0000-0000-0000-000000000000', ''];
export const targetArb: fc.Arbitrary<Target> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ ref: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ bogus: fc.constantFrom(...BOGUS_IDS) }) },
);

export const textArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(300), 'x'.repeat(255), 'nul\u0000byte', 'ünïcødé ☃ 🦀', '\u202eevil', '', ' ', '%s%n', '<script>', "'; DROP TABLE backups; --") },
  { weight: 1, arbitrary: fc.constantFrom(null, 42, true, ['a'], { a: 1 }) },
);

const containerArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom('c1', 'c2', 'backups') },
  { weight: 2, arbitrary: fc.constantFrom('bad name', '../../x', 'a/b', '.', '..', 'x'.repeat(256), 'nul\u0000', 'ünï', '') },
  { weight: 1, arbitrary: fc.constantFrom(null, 7) },
);

const sizeArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 10, arbitrary: fc.constant(1) },
  { weight: 2, arbitrary: fc.constant(2) },
  { weight: 2, arbitrary: fc.constantFrom(0, -1, 2 ** 53 - 1, 1.5, '1', 'abc', null, 1001, 2 ** 31, -(2 ** 53)) },
);

const boolArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constantFrom('True', 'yes', '1', 'maybe', 2, null) },
);

const metadataArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom({ k: 'v' }, {}, { '': 'v' }, { k: 'x'.repeat(300) }, null, 'nope', { nested: { a: 1 } }) },
);

/** A backup create body's fields; undefined ones are left out. */
const backupFieldsArb = fc.record({
  name: textArb,
  description: textArb,
  container: containerArb,
  incremental: boolArb,
  force: boolArb,
  metadata: metadataArb,
  snapshot_id: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('00000000-0000-4000-8000-000000000000', 'nope') }),
  colour: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant('red') }),
});

const MALFORMED = [
  ['POST', '/backups', '{"backup": '],
  ['POST', '/backups', '[]'],
  ['POST', '/backups', 'null'],
  ['POST', '/backups', '{"backup": "x"}'],
  ['POST', '/backups', `{"backup": {"volume_id": ${'['.repeat(2000)}${']'.repeat(2000)}}}`],
  ['POST', '/volumes', '\u0000'],
  ['POST', '/volumes', '{"volume": {"size": 1e400}}'],
  ['POST', '/volumes', '{"__proto__": {"polluted": true}, "volume": {"size": 1}}'],
  ['PUT', '/os-services/disable', '{"host": null}'],
  ['POST', '/backups/import_record', '{"backup-record": {"backup_service": "x", "backup_url": "%%%"}}'],
  ['GET', '/backups?limit=-1', ''],
  ['GET', '/backups?limit=abc&sort=nope:sideways', ''],
  ['GET', '/backups?marker=00000000-0000-4000-8000-000000000000', ''],
  ['GET', '/backups/detail?offset=-5&with_count=maybe', ''],
  ['GET', '/backups?all_tenants=1&project_id=project-b', ''],
  ['DELETE', '/backups', ''],
  ['PATCH', '/backups', '{}'],
  ['GET', '/volumes?limit=99999999999999999999', ''],
] as const;

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('createVolume' as const), size: sizeArb, name: textArb, fromBackup: fc.option(targetArb, { nil: undefined, freq: 8 }), actor: actorArb, url: urlArb, version: versionArb }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('writeVolume' as const), volume: fc.nat(1000), offset: fc.nat(31), length: fc.integer({ min: 1, max: 16 }), seed: fc.nat() }) },
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('createBackup' as const), volume: targetArb, fields: backupFieldsArb }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('listBackups' as const), detail: fc.boolean(), query: fc.constantFrom('', '?all_tenants=1', '?limit=1', '?sort=name:asc', '?status=error', '?with_count=true&limit=2') }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('showBackup' as const), backup: targetArb }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('updateBackup' as const), backup: targetArb, fields: fc.record({ name: textArb, description: textArb, metadata: metadataArb }) }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('deleteBackup' as const), backup: targetArb }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('restoreBackup' as const), backup: targetArb, into: fc.oneof(fc.constant<'new'>('new'), targetArb), name: textArb }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('resetStatus' as const), backup: targetArb, status: fc.constantFrom('available', 'error', 'error', 'creating', 'deleted', 42) }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('forceDelete' as const), backup: targetArb }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('exportImport' as const), backup: targetArb, tamper: fc.constantFrom('none', 'new-id', 'size', 'foreign-parent', 'garbage') as fc.Arbitrary<'none' | 'new-id' | 'size' | 'foreign-parent' | 'garbage'> }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('extendVolume' as const), volume: targetArb, newSize: fc.constantFrom(2, 3, 1, 0, -3, '4', 2 ** 53 - 1, 1e300, 'big') }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('deleteVolume' as const), volume: targetArb }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('listVolumes' as const), detail: fc.boolean() }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('services' as const), action: fc.constantFrom('list', 'list', 'list', 'disable', 'enable') as fc.Arbitrary<'list' | 'disable' | 'enable'> }).chain((step) => callerArb.map((caller) => ({ ...step, ...caller }))) },
  { weight: 3, arbitrary: fc.constantFrom(...MALFORMED).chain(([method, path, raw]) => callerArb.map((caller) => ({ kind: 'malformed' as const, method, path, raw, ...caller }))) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tamperCopy' as const), from: fc.nat(1000), to: fc.nat(1000) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'hold' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'release' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'settle' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), crash: fc.boolean() }) },
);

export function stepsArb(minLength: number, maxLength: number): fc.Arbitrary<Step[]> {
  return fc.array(stepArb, { minLength, maxLength });
}
