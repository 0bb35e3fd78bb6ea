/**
 * Hand-written starting points the generator runs first (fast-check `examples`): the shapes of the audit's
 * findings, so that every run of the suite reaches them whatever the seed draws; they shrink like drawn ones.
 */
import type { Actor } from './hostile-harness.js';
import type { Step } from './hostile-steps.js';

const as = (actor: Actor) => ({ actor, url: 'own' as const, version: 'volume 3.70' });
const newVolume = (actor: Actor): Step => ({ kind: 'createVolume', size: 1, name: 'v', fromBackup: undefined, ...as(actor) });
const write = (volume: number, seed: number): Step => ({ kind: 'writeVolume', volume, offset: seed % 31, length: 8, seed });
const backup = (actor: Actor, volume: number, fields: Record<string, unknown> = {}): Step => ({ kind: 'createBackup', volume: { ref: volume }, fields, ...as(actor) });

export const SCENARIOS: readonly Step[][] = [
  // An incremental in the default container whose full backup is in another one must still restore.
  [newVolume('a'), write(0, 1), backup('a', 0, { container: 'c1' }), { kind: 'settle' }, write(0, 2), backup('a', 0, { incremental: true }), { kind: 'settle' }],
  // A queued create (backup_max_operations: 1) force-deleted or reset, and a queued restore reset: nothing stays held.
  [
    newVolume('a'), newVolume('a'), newVolume('b'), write(0, 3), write(1, 4), write(2, 5),
    { kind: 'hold' }, backup('a', 0), backup('a', 1), backup('b', 2),
    { kind: 'forceDelete', backup: { ref: 1 }, ...as('admin') },
    { kind: 'resetStatus', backup: { ref: 2 }, status: 'error', ...as('admin') },
    { kind: 'settle' },
    { kind: 'hold' }, backup('a', 1),
    { kind: 'restoreBackup', backup: { ref: 0 }, into: 'new', name: undefined, ...as('a') },
    { kind: 'resetStatus', backup: { ref: 0 }, status: 'available', ...as('admin') },
    { kind: 'restart', crash: true },
    { kind: 'settle' },
  ],
  // Containers the driver refuses: refused at the API, or deletable; never an undeletable backup holding quota.
  [newVolume('a'), backup('a', 0, { container: 'bad name' }), backup('a', 0, { container: '../../x' }), backup('a', 0, { container: 'a/b' }), { kind: 'settle' },
    { kind: 'deleteBackup', backup: { ref: 0 }, ...as('a') }, { kind: 'deleteBackup', backup: { ref: 1 }, ...as('a') }, { kind: 'deleteBackup', backup: { ref: 2 }, ...as('a') }, { kind: 'settle' }],
  // Storage that lies (one backup's objects under another's prefix) and an export whose size was edited.
  [newVolume('a'), newVolume('a'), write(0, 6), write(1, 7), backup('a', 0), backup('a', 1), { kind: 'settle' }, { kind: 'tamperCopy', from: 0, to: 1 },
    { kind: 'exportImport', backup: { ref: 0 }, tamper: 'size', ...as('admin') }, { kind: 'settle' }],
  // An import naming another project's backup as its parent; volume sizes and counts past Cinder's quotas.
  [newVolume('b'), backup('b', 0), newVolume('admin'), backup('admin', 1), { kind: 'settle' },
    { kind: 'exportImport', backup: { ref: 1 }, tamper: 'foreign-parent', ...as('admin') },
    { kind: 'createVolume', size: 2 ** 53 - 1, name: 'huge', fromBackup: undefined, ...as('b') },
    { kind: 'extendVolume', volume: { ref: 0 }, newSize: 2 ** 53 - 1, ...as('b') },
    { kind: 'services', action: 'list', ...as('admin') }, { kind: 'settle' }],
];
