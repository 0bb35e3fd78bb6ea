/**
 * One hostile run: executes steps against a fresh service, keeps a model of what each project owns and what each
 * volume and backup must contain, and checks the invariants after each step (cheap ones) and at every settle
 * (the service idle: stuck statuses, restores byte-identical, deleted objects gone).
 */
import { createHash } from 'node:crypto';
import { cp, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKUP_TRANSIENT, CINDER_VOLUME_QUOTA, HostileHarness, PROJECT_OF, QUOTA, SMALL_VOLUME_BYTES, type Actor, type ApiAnswer } from './hostile-harness.js';
import type { Step, Target } from './hostile-steps.js';

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
    readonly stepIndex: number,
  ) {
    super(`invariant "${invariant}" broken at step ${stepIndex}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

/** Totals over every run (shrinking included), printed at the end. */
export const totals = { steps: 0, runs: 0, errorPaths: new Set<string>(), collected: new Map<string, { detail: string; run: number; stepIndex: number; count: number }>() };

interface Write {
  readonly offset: number;
  readonly length: number;
  readonly seed: number;
}
type Content = readonly Write[] | 'unknown';

interface VolumeModel {
  readonly id: string;
  content: Content;
}

interface BackupModel {
  readonly id: string;
  /** The source volume's content when the create was accepted. */
  readonly expected: Content;
  /** Its stored objects were replaced by another backup's: a restore must fail or give `expected`. */
  tampered: boolean;
  restoreChecked: boolean;
  /** A delete (or force delete) was accepted and no reset came after it. */
  deleteAccepted: boolean;
  /** An import of a record whose size was edited: must never become available. */
  mustNotBeAvailable: boolean;
}

const FAULT_NAMES: Readonly<Record<number, string>> = {
  400: 'badRequest', 401: 'unauthorized', 403: 'forbidden', 404: 'itemNotFound', 405: 'badMethod', 409: 'conflictingRequest',
  413: 'overLimit', 415: 'badMediaType', 429: 'overLimit', 501: 'notImplemented', 503: 'serviceUnavailable',
};

/** Tempest's schemas (additionalProperties: false): the keys a document may have at a microversion. */
function allowedServiceKeys(minor: number): Set<string> {
  const keys = ['binary', 'host', 'zone', 'status', 'state', 'updated_at', 'disabled_reason'];
  if (minor >= 7) keys.push('cluster');
  if (minor >= 49) keys.push('backend_state');
  return new Set(keys);
}
function allowedBackupDetailKeys(minor: number): Set<string> {
  const keys = ['id', 'status', 'size', 'object_count', 'availability_zone', 'container', 'created_at', 'updated_at', 'name', 'description', 'fail_reason', 'volume_id', 'links', 'is_incremental', 'has_dependent_backups', 'snapshot_id', 'data_timestamp'];
  if (minor >= 18) keys.push('os-backup-project-attr:project_id');
  if (minor >= 43) keys.push('metadata');
  if (minor >= 56) keys.push('user_id');
  if (minor >= 64) keys.push('encryption_key_id');
  return new Set(keys);
}

/** The minor version a request asked for, or undefined when it was not a valid one. */
function minorOf(header: string | undefined): number | undefined {
  if (header === undefined) return 0;
  if (header === 'volume latest') return 70;
  const match = /^volume 3\.(\d+)$/.exec(header);
  if (!match) return undefined;
  const minor = Number(match[1]);
  return minor <= 70 ? minor : undefined;
}

/** A message with its values taken out: the error path's template. */
function messageTemplate(message: string): string {
  return message
    .replace(/Value: [\s\S]*$/, 'Value: <v>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/'[^']*'/g, "'<v>'")
    .replace(/\d+/g, 'N');
}

function contentBytes(content: readonly Write[]): Buffer {
  const bytes = Buffer.alloc(SMALL_VOLUME_BYTES);
  for (const write of content) {
    // A tiny deterministic generator (xorshift) so the bytes depend on the seed only.
    let state = (write.seed | 1) >>> 0;
    for (let i = 0; i < write.length; i += 1) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      bytes[write.offset + i] = state & 0xff;
    }
  }
  return bytes;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Text no member may read: where things live and how the code failed. */
const INTERNAL_TEXT = [/\/tmp\//, /stowage-hostile-/, /node:internal/, /\n\s+at /, /\bE(NOENT|ACCES|ISDIR|NOTDIR|INVAL|RANGE|BADF)\b/, /SQLITE_/, /\b(TypeError|RangeError|ReferenceError)\b/, /ERR_[A-Z_]{4,}/];

export interface RunOptions {
  /** Only this invariant fails the run (to shrink towards one defect); others are ignored. */
  readonly only?: string | undefined;
  /** Record violations (the first of each invariant) and go on, to survey what a seed finds. */
  readonly collect?: boolean | undefined;
}

export class HostileRun {
  readonly harness = new HostileHarness();
  readonly volumes: VolumeModel[] = [];
  readonly backups: BackupModel[] = [];
  readonly #plantedLeftovers: string[] = [];
  #stepIndex = 0;

  constructor(readonly options: RunOptions = {}) {}

  async execute(steps: readonly Step[]): Promise<void> {
    await this.harness.start();
    totals.runs += 1;
    try {
      this.#checkServerTimeouts();
      for (const step of steps) {
        await this.#run(step);
        this.#stepIndex += 1;
      }
      await this.#settle();
    } finally {
      await this.harness.stop();
    }
  }

  #fail(invariant: string, detail: string): void {
    if (this.options.only !== undefined && this.options.only !== invariant) return;
    if (this.options.collect) {
      const seen = totals.collected.get(invariant);
      if (seen) seen.count += 1;
      else totals.collected.set(invariant, { detail, run: totals.runs, stepIndex: this.#stepIndex, count: 1 });
      return;
    }
    throw new InvariantViolation(invariant, detail, this.#stepIndex);
  }

  #checkServerTimeouts(): void {
    const server = this.harness.service.app.server;
    if (!(server.requestTimeout > 0) || !(server.headersTimeout > 0)) {
      this.#fail('request-timeouts', `the API server has requestTimeout ${server.requestTimeout} and headersTimeout ${server.headersTimeout}: a slow client holds a connection forever`);
    }
  }

  #volumeId(target: Target): string {
    if ('bogus' in target) return target.bogus;
    return this.volumes.length === 0 ? '00000000-0000-4000-8000-00000000000a' : this.volumes[target.ref % this.volumes.length]!.id;
  }
  #backupId(target: Target): string {
    if ('bogus' in target) return target.bogus;
    return this.backups.length === 0 ? '00000000-0000-4000-8000-00000000000b' : this.backups[target.ref % this.backups.length]!.id;
  }
  #volume(id: string): VolumeModel | undefined {
    return this.volumes.find((volume) => volume.id === id);
  }
  #backup(id: string): BackupModel | undefined {
    return this.backups.find((backup) => backup.id === id);
  }

  async #ownerOf(kind: 'backup' | 'volume', id: string): Promise<string | undefined> {
    const db = this.harness.service.store.db;
    const row = await db.selectFrom(kind === 'backup' ? 'backups' : 'volumes').select(['project_id']).where('id', '=', id).executeTakeFirst();
    return row?.project_id;
  }

  /** The checks every answer gets. `foreign`: the step targets another project's resource as a member. */
  async #checkAnswer(actor: Actor, version: string | undefined, answer: ApiAnswer, foreign: boolean): Promise<void> {
    totals.steps += 1;
    const body = answer.json as Record<string, unknown> | undefined;
    if (answer.status >= 400) {
      const inner = body && typeof body === 'object' ? (Object.values(body)[0] as Record<string, unknown> | undefined) : undefined;
      const message = typeof inner?.message === 'string' ? inner.message : answer.text.slice(0, 80);
      totals.errorPaths.add(`${answer.route} ${answer.status} ${messageTemplate(message)}`);
    }
    if (answer.status >= 500 && answer.status !== 503) this.#fail('no-500', `${answer.route} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
    if (answer.status >= 400) this.#checkFaultShape(answer);
    if (actor !== 'admin') {
      for (const pattern of INTERNAL_TEXT) {
        if (pattern.test(answer.text)) this.#fail('no-internal-text', `${answer.route} (${answer.status}) shows a member ${pattern}: ${answer.text.slice(0, 400)}`);
      }
    }
    if (foreign) {
      const harmlessValidation = answer.status === 400 && /Invalid input for field|Invalid input received: the request URL|Malformed request|Invalid API version|API Version String|Version .* is not supported/.test(answer.text);
      if (![403, 404, 406].includes(answer.status) && !harmlessValidation) {
        this.#fail('no-cross-project', `${actor} (${PROJECT_OF[actor]}) acting on another project's resource: ${answer.route} answered ${answer.status} ${answer.text.slice(0, 200)}`);
      }
    }
    if (answer.status === 406 && minorOf(version) !== undefined) this.#fail('microversions', `a valid microversion (${version}) answered 406`);
    if (answer.status < 300 && answer.status >= 200 && minorOf(version) === undefined && !answer.route.endsWith('/v3/{p}/')) {
      this.#fail('microversions', `an invalid microversion (${version}) was served: ${answer.route} ${answer.status}`);
    }
    await this.#checkListsAreOwn(actor, answer);
  }

  #checkFaultShape(answer: ApiAnswer): void {
    const body = answer.json;
    if (answer.status === 401) {
      const error = (body as { error?: { code?: unknown } } | undefined)?.error;
      if (error?.code !== 401) this.#fail('fault-shape', `401 without keystonemiddleware's body: ${answer.text.slice(0, 200)}`);
      return;
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) return this.#fail('fault-shape', `${answer.route} ${answer.status} body is not a fault: ${answer.text.slice(0, 200)}`);
    const keys = Object.keys(body);
    const expectedName = FAULT_NAMES[answer.status] ?? 'computeFault';
    const inner = (body as Record<string, unknown>)[expectedName] as Record<string, unknown> | undefined;
    const innerKeys = inner && typeof inner === 'object' ? Object.keys(inner) : [];
    if (keys.length !== 1 || !inner || inner.code !== answer.status || typeof inner.message !== 'string' || innerKeys.some((key) => !['code', 'message', 'retryAfter'].includes(key))) {
      this.#fail('fault-shape', `${answer.route} ${answer.status} is not {"${expectedName}": {"code": ${answer.status}, "message"}}: ${answer.text.slice(0, 200)}`);
    }
  }

  async #checkListsAreOwn(actor: Actor, answer: ApiAnswer): Promise<void> {
    if (actor === 'admin' || answer.status !== 200) return;
    const body = answer.json as Record<string, unknown> | undefined;
    for (const [key, kind] of [['backups', 'backup'], ['volumes', 'volume'], ['backup', 'backup'], ['volume', 'volume']] as const) {
      const value = body?.[key];
      const items = Array.isArray(value) ? value : value && typeof value === 'object' ? [value] : [];
      for (const item of items as Array<{ id?: unknown }>) {
        if (typeof item.id !== 'string') continue;
        const owner = await this.#ownerOf(kind, item.id);
        if (owner !== undefined && owner !== PROJECT_OF[actor]) this.#fail('no-cross-project', `${actor} sees ${kind} ${item.id} of ${owner} in ${answer.route}`);
      }
    }
  }

  async #call(actor: Actor, method: string, path: string, options: { body?: unknown; rawBody?: string; version: string | undefined; url: 'own' | 'other' | 'none' }, foreign = false): Promise<ApiAnswer> {
    const answer = await this.harness.call(actor, method, path, { ...options, versionHeader: options.version, urlProject: options.url });
    // The shape checks first: they name the defect better than the project check would.
    await this.#checkAnswer(actor, options.version, answer, foreign);
    // A path no route takes (an over-long id segment) is 404 before any project is read: the same for every project.
    const unroutable = answer.status === 404 && JSON.stringify(answer.json) === JSON.stringify({ itemNotFound: { code: 404, message: 'The resource could not be found.' } });
    if (options.url === 'other' && actor !== 'admin' && !unroutable && ![400, 401, 403, 406].includes(answer.status)) {
      this.#fail('no-cross-project', `${actor}'s URL named another project and got ${answer.status} (${answer.route}): ${answer.text.slice(0, 200)}`);
    }
    return answer;
  }

  async #isForeign(actor: Actor, kind: 'backup' | 'volume', id: string): Promise<boolean> {
    if (actor === 'admin') return false;
    const owner = await this.#ownerOf(kind, id);
    return owner !== undefined && owner !== PROJECT_OF[actor];
  }

  async #run(step: Step): Promise<void> {
    const harness = this.harness;
    switch (step.kind) {
      case 'hold':
        harness.gate.hold();
        return;
      case 'release':
        harness.gate.release();
        await harness.quiesce();
        return;
      case 'settle':
        await this.#settle();
        return;
      case 'restart': {
        if (step.crash) this.#plantedLeftovers.push(...(await harness.plantCrashLeftovers(this.#stepIndex)));
        await harness.restart();
        this.#checkServerTimeouts();
        await harness.quiesce();
        return;
      }
      case 'writeVolume': {
        if (this.volumes.length === 0) return;
        const volume = this.volumes[step.volume % this.volumes.length]!;
        const row = await harness.service.store.getVolume(volume.id);
        // Only a volume nobody works on: what a backup reads must not change under it.
        if (!row || row.status !== 'available' || volume.content === 'unknown') return;
        const size = await stat(row.path).then((info) => info.size, () => -1);
        if (size < SMALL_VOLUME_BYTES) return;
        const write: Write = { offset: step.offset * 64 * 1024, length: step.length * 4096, seed: step.seed };
        const handle = await open(row.path, 'r+');
        try {
          const bytes = contentBytes([{ ...write, offset: 0 }]).subarray(0, write.length);
          await handle.write(bytes, 0, bytes.length, write.offset);
        } finally {
          await handle.close();
        }
        volume.content = [...volume.content, write];
        return;
      }
      case 'tamperCopy':
        await this.#tamperCopy(step.from, step.to);
        return;
      default:
        await this.#apiStep(step);
    }
  }

  async #apiStep(step: Exclude<Step, { kind: 'hold' | 'release' | 'settle' | 'restart' | 'writeVolume' | 'tamperCopy' }>): Promise<void> {
    const { actor, version, url } = step;
    const options = { version, url };
    let mutated = false;
    switch (step.kind) {
      case 'createVolume': {
        const volume: Record<string, unknown> = { size: step.size };
        if (step.name !== undefined) volume.name = step.name;
        const backupId = step.fromBackup === undefined ? undefined : this.#backupId(step.fromBackup);
        if (backupId !== undefined) volume.backup_id = backupId;
        // Below 3.47 backup_id is ignored (as Cinder does), so naming another project's backup reveals nothing.
        const usesBackup = backupId !== undefined && (minorOf(version) ?? 0) >= 47;
        const foreign = usesBackup && (await this.#isForeign(actor, 'backup', backupId));
        const answer = await this.#call(actor, 'POST', '/volumes', { ...options, body: { volume } }, foreign);
        const id = (answer.json as { volume?: { id?: string } } | undefined)?.volume?.id;
        if (answer.status === 202 && typeof id === 'string') {
          const source = backupId === undefined ? undefined : this.#backup(backupId);
          const fromBackup = backupId !== undefined && minorOf(version) !== undefined && minorOf(version)! >= 47;
          this.volumes.push({ id, content: fromBackup ? (source && !source.tampered ? source.expected : 'unknown') : [] });
          mutated = true;
        }
        break;
      }
      case 'createBackup': {
        const volumeId = this.#volumeId(step.volume);
        const fields = Object.fromEntries(Object.entries({ volume_id: volumeId, ...step.fields }).filter(([, value]) => value !== undefined));
        const foreign = await this.#isForeign(actor, 'volume', volumeId);
        const answer = await this.#call(actor, 'POST', '/backups', { ...options, body: { backup: fields } }, foreign);
        const id = (answer.json as { backup?: { id?: string } } | undefined)?.backup?.id;
        if (answer.status === 202 && typeof id === 'string') {
          const content = this.#volume(volumeId)?.content ?? 'unknown';
          this.backups.push({ id, expected: content, tampered: false, restoreChecked: false, deleteAccepted: false, mustNotBeAvailable: false });
          mutated = true;
        }
        break;
      }
      case 'listBackups':
        await this.#call(actor, 'GET', `/backups${step.detail ? '/detail' : ''}${step.query}`, options);
        break;
      case 'showBackup': {
        const id = this.#backupId(step.backup);
        const answer = await this.#call(actor, 'GET', `/backups/${id}`, options, await this.#isForeign(actor, 'backup', id));
        const minor = minorOf(version);
        const detail = (answer.json as { backup?: Record<string, unknown> } | undefined)?.backup;
        if (answer.status === 200 && detail && minor !== undefined) {
          const allowed = allowedBackupDetailKeys(minor);
          const extra = Object.keys(detail).filter((key) => !allowed.has(key));
          if (extra.length > 0) this.#fail('cinder-schema', `backup detail at 3.${minor} has keys tempest refuses: ${extra.join(', ')}`);
        }
        break;
      }
      case 'updateBackup': {
        const id = this.#backupId(step.backup);
        const fields = Object.fromEntries(Object.entries(step.fields).filter(([, value]) => value !== undefined));
        await this.#call(actor, 'PUT', `/backups/${id}`, { ...options, body: { backup: fields } }, await this.#isForeign(actor, 'backup', id));
        break;
      }
      case 'deleteBackup':
      case 'forceDelete': {
        const id = this.#backupId(step.backup);
        const foreign = await this.#isForeign(actor, 'backup', id);
        const answer =
          step.kind === 'deleteBackup'
            ? await this.#call(actor, 'DELETE', `/backups/${id}`, options, foreign)
            : await this.#call(actor, 'POST', `/backups/${id}/action`, { ...options, body: { 'os-force_delete': {} } }, foreign);
        if (answer.status === 202) {
          const backup = this.#backup(id);
          if (backup) backup.deleteAccepted = true;
          mutated = true;
        }
        break;
      }
      case 'restoreBackup': {
        const id = this.#backupId(step.backup);
        const restore: Record<string, unknown> = {};
        const targetId = step.into === 'new' ? undefined : this.#volumeId(step.into);
        if (targetId !== undefined) restore.volume_id = targetId;
        if (step.name !== undefined) restore.name = step.name;
        const foreign = (await this.#isForeign(actor, 'backup', id)) || (targetId !== undefined && (await this.#isForeign(actor, 'volume', targetId)));
        const answer = await this.#call(actor, 'POST', `/backups/${id}/restore`, { ...options, body: { restore } }, foreign);
        const volumeId = (answer.json as { restore?: { volume_id?: string } } | undefined)?.restore?.volume_id;
        if (answer.status === 202 && typeof volumeId === 'string') {
          const backup = this.#backup(id);
          const content: Content = backup && !backup.tampered ? backup.expected : 'unknown';
          const known = this.#volume(volumeId);
          if (known) known.content = content;
          else this.volumes.push({ id: volumeId, content });
          if (actor !== 'admin' && (await this.#ownerOf('volume', volumeId)) !== PROJECT_OF[actor]) this.#fail('no-cross-project', `${actor}'s restore went into another project's volume ${volumeId}`);
          mutated = true;
        }
        break;
      }
      case 'resetStatus': {
        const id = this.#backupId(step.backup);
        const answer = await this.#call(actor, 'POST', `/backups/${id}/action`, { ...options, body: { 'os-reset_status': { status: step.status } } }, await this.#isForeign(actor, 'backup', id));
        if (answer.status === 202) {
          const backup = this.#backup(id);
          if (backup) backup.deleteAccepted = false;
          mutated = true;
        }
        break;
      }
      case 'exportImport':
        mutated = await this.#exportImport(step);
        break;
      case 'extendVolume': {
        const id = this.#volumeId(step.volume);
        const answer = await this.#call(actor, 'POST', `/volumes/${id}/action`, { ...options, body: { 'os-extend': { new_size: step.newSize } } }, await this.#isForeign(actor, 'volume', id));
        mutated = answer.status === 202;
        break;
      }
      case 'deleteVolume': {
        const id = this.#volumeId(step.volume);
        const answer = await this.#call(actor, 'DELETE', `/volumes/${id}`, options, await this.#isForeign(actor, 'volume', id));
        mutated = answer.status === 202;
        break;
      }
      case 'listVolumes':
        await this.#call(actor, 'GET', `/volumes${step.detail ? '/detail' : ''}`, options);
        break;
      case 'services': {
        if (step.action === 'list') {
          const answer = await this.#call(actor, 'GET', '/os-services', options);
          const minor = minorOf(version);
          const services = (answer.json as { services?: Array<Record<string, unknown>> } | undefined)?.services;
          if (answer.status === 200 && services && minor !== undefined) {
            const allowed = allowedServiceKeys(minor);
            const extra = [...new Set(services.flatMap((service) => Object.keys(service).filter((key) => !allowed.has(key))))];
            if (extra.length > 0) this.#fail('cinder-schema', `os-services at 3.${minor} has keys tempest refuses: ${extra.join(', ')}`);
          }
        } else {
          // Disabling is undone at once: a disabled backend would turn every later step into a 404.
          const answer = await this.#call(actor, 'PUT', `/os-services/${step.action}`, { ...options, body: { host: 'hostile@posix', binary: 'cinder-backup' } });
          if (answer.status === 200 && step.action === 'disable') await this.harness.call('admin', 'PUT', '/os-services/enable', { body: { host: 'hostile@posix', binary: 'cinder-backup' }, versionHeader: 'volume 3.70' });
        }
        break;
      }
      case 'malformed': {
        const answer = await this.#call(actor, step.method, step.path, { ...options, ...(step.raw === '' ? {} : { rawBody: step.raw }) });
        mutated = answer.status < 300;
        const id = (answer.json as { volume?: { id?: string } } | undefined)?.volume?.id;
        if (answer.status === 202 && typeof id === 'string') this.volumes.push({ id, content: [] });
        break;
      }
    }
    if (mutated) {
      await this.harness.quiesce();
      await this.#checkQuotas();
      await this.#checkNoCrossProjectParents();
    }
  }

  async #exportImport(step: Extract<Step, { kind: 'exportImport' }>): Promise<boolean> {
    const id = this.#backupId(step.backup);
    const options = { version: step.version, url: step.url };
    const exported = await this.#call(step.actor, 'GET', `/backups/${id}/export_record`, options, await this.#isForeign(step.actor, 'backup', id));
    const record = (exported.json as { 'backup-record'?: { backup_service: string; backup_url: string } } | undefined)?.['backup-record'];
    if (exported.status !== 200 || !record) return false;
    const decoded = JSON.parse(Buffer.from(record.backup_url, 'base64').toString('utf8')) as Record<string, unknown>;
    const newId = `00000000-0000-4000-8000-${String(this.#stepIndex).padStart(12, '0')}`;
    if (step.tamper !== 'none') decoded.id = newId;
    if (step.tamper === 'size') decoded.size = Number(decoded.size) * 2 + 1;
    if (step.tamper === 'foreign-parent') {
      const foreign = this.backups.find((backup) => backup.id !== id);
      if (foreign) decoded.parent_id = foreign.id;
    }
    const url = step.tamper === 'garbage' ? 'bm90IGpzb24=' : Buffer.from(JSON.stringify(decoded)).toString('base64');
    const imported = await this.#call(step.actor, 'POST', '/backups/import_record', { ...options, body: { 'backup-record': { backup_service: record.backup_service, backup_url: url } } });
    const importedId = (imported.json as { backup?: { id?: string } } | undefined)?.backup?.id;
    if (imported.status !== 201 || typeof importedId !== 'string') return false;
    const source = this.#backup(id);
    if (!this.#backup(importedId)) {
      this.backups.push({ id: importedId, expected: source && !source.tampered ? source.expected : 'unknown', tampered: false, restoreChecked: false, deleteAccepted: false, mustNotBeAvailable: step.tamper === 'size' });
    }
    return true;
  }

  /** Storage that lies: one backup's objects copied over another's (same container layout, other prefix). */
  async #tamperCopy(fromRef: number, toRef: number): Promise<void> {
    if (this.backups.length < 2) return;
    const from = this.backups[fromRef % this.backups.length]!;
    const to = this.backups[toRef % this.backups.length]!;
    if (from.id === to.id) return;
    const store = this.harness.service.store;
    const [fromRow, toRow] = [await store.getBackup(from.id), await store.getBackup(to.id)];
    if (!fromRow || !toRow || fromRow.status !== 'available' || toRow.status !== 'available' || !fromRow.service_metadata || !toRow.service_metadata) return;
    const fromFolder = join(this.harness.posixRoot, fromRow.container ?? 'backups', fromRow.service_metadata);
    const toFolder = join(this.harness.posixRoot, toRow.container ?? 'backups', toRow.service_metadata);
    if (!fromFolder.startsWith(this.harness.posixRoot) || !toFolder.startsWith(this.harness.posixRoot)) return;
    await rm(toFolder, { recursive: true, force: true });
    await cp(fromFolder, toFolder, { recursive: true });
    to.tampered = true;
    to.restoreChecked = false;
  }

  async #checkQuotas(): Promise<void> {
    const db = this.harness.service.store.db;
    for (const project of [PROJECT_OF.a, PROJECT_OF.b]) {
      const backups = await db.selectFrom('backups').select(['size']).where('project_id', '=', project).where('deleted', '=', 0).execute();
      const gigabytes = backups.reduce((sum, row) => sum + row.size, 0);
      if (backups.length > QUOTA.backups || gigabytes > QUOTA.backupGigabytes) {
        this.#fail('quotas', `${project} holds ${backups.length} backups of ${gigabytes} GiB (quota ${QUOTA.backups} backups, ${QUOTA.backupGigabytes} GiB)`);
      }
      const volumes = await db.selectFrom('volumes').select(['size']).where('project_id', '=', project).where('deleted', '=', 0).execute();
      const volumeGigabytes = volumes.reduce((sum, row) => sum + row.size, 0);
      if (volumes.length > CINDER_VOLUME_QUOTA.volumes || volumeGigabytes > CINDER_VOLUME_QUOTA.gigabytes) {
        this.#fail('quotas', `${project} holds ${volumes.length} volumes of ${volumeGigabytes} GiB (Cinder's default quota ${CINDER_VOLUME_QUOTA.volumes} volumes, ${CINDER_VOLUME_QUOTA.gigabytes} GiB)`);
      }
    }
  }

  async #checkNoCrossProjectParents(): Promise<void> {
    const db = this.harness.service.store.db;
    const rows = await db
      .selectFrom('backups as child')
      .innerJoin('backups as parent', 'parent.id', 'child.parent_id')
      .select(['child.id as child', 'child.project_id as childProject', 'parent.id as parent', 'parent.project_id as parentProject'])
      .where('child.deleted', '=', 0)
      .whereRef('child.project_id', '!=', 'parent.project_id')
      .execute();
    for (const row of rows) this.#fail('no-cross-project', `backup ${row.child} of ${row.childProject} has parent ${row.parent} of ${row.parentProject}`);
  }

  /** The service idle: the deep invariants. */
  async #settle(): Promise<void> {
    const harness = this.harness;
    await harness.idle();
    const stuck = await harness.transientRows();
    if (stuck.length > 0) this.#fail('nothing-stuck', `idle, yet in a transient status: ${stuck.join('; ')}`);
    await this.#checkQuotas();
    await this.#checkNoCrossProjectParents();
    const store = harness.service.store;
    for (const backup of this.backups) {
      const row = await store.getBackupIncludingDeleted(backup.id);
      if (!row) continue;
      if (backup.deleteAccepted && row.status !== 'deleted' && /stopped during the delete/.test(row.fail_reason ?? '')) {
        // A restart interrupted it and the reason says "delete it again": do what it says, once.
        await harness.call(PROJECT_OF.a === row.project_id ? 'a' : PROJECT_OF.b === row.project_id ? 'b' : 'admin', 'DELETE', `/backups/${backup.id}`, { versionHeader: 'volume 3.70' });
        await harness.idle(20_000);
      }
      const settled = await store.getBackupIncludingDeleted(backup.id);
      if (settled && backup.deleteAccepted && settled.status !== 'deleted') this.#fail('accepted-delete-completes', `backup ${backup.id} (container ${JSON.stringify(row.container)}): a delete was accepted, yet it is ${settled.status}: ${settled.fail_reason ?? ''}`);
      if (backup.mustNotBeAvailable && row.status === 'available') this.#fail('import-checked', `imported backup ${backup.id} has a size its metadata does not have, yet it is available`);
      if (row.status === 'deleted') await this.#checkObjectsGone(backup.id, row.container, row.service_metadata);
      if (row.status === 'available' && backup.expected !== 'unknown' && !backup.restoreChecked) await this.#checkRestore(backup);
    }
    for (const leftover of this.#plantedLeftovers) {
      if (await stat(leftover).then(() => true, () => false)) this.#fail('storage-swept', `after a crash and a restart, ${leftover.slice(harness.posixRoot.length)} is still on the storage`);
    }
  }

  /**
   * The sha256 of the region the suite writes, when the rest of the file holds nothing: beyond that region a
   * correct restore leaves holes, so the file may not have more allocated than the region (and a little slack).
   */
  async #restoredDigest(path: string): Promise<string> {
    const info = await stat(path);
    const allocated = info.blocks * 512;
    if (allocated > SMALL_VOLUME_BYTES + 256 * 1024) return `${allocated} bytes allocated beyond the written region`;
    const handle = await open(path, 'r');
    try {
      const head = Buffer.alloc(SMALL_VOLUME_BYTES);
      await handle.read(head, 0, head.length, 0);
      return sha256(head);
    } finally {
      await handle.close();
    }
  }

  async #checkObjectsGone(id: string, container: string | null, prefix: string | null): Promise<void> {
    if (!prefix) return;
    const db = this.harness.service.store.db;
    const sharing = await db.selectFrom('backups').select(['id']).where('deleted', '=', 0).where('service_metadata', '=', prefix).executeTakeFirst();
    if (sharing) return; // an imported copy still uses the objects
    const folder = join(this.harness.posixRoot, container ?? 'backups', prefix);
    const left = await this.harness.filesUnder(folder);
    if (left.length > 0) this.#fail('deleted-objects-gone', `backup ${id} is deleted, yet ${left.length} of its objects remain under ${folder.slice(this.harness.posixRoot.length)}`);
  }

  /** Restore into a fresh, empty volume of the admin's and compare it with what the source held. */
  async #checkRestore(backup: BackupModel): Promise<void> {
    const harness = this.harness;
    backup.restoreChecked = true;
    const admin = { versionHeader: 'volume 3.70' } as const;
    const source = await harness.service.store.getBackup(backup.id);
    if (!source || source.status !== 'available') return;
    const created = await harness.call('admin', 'POST', '/volumes', { ...admin, body: { volume: { size: Math.max(1, source.size), name: `check-${backup.id}` } } });
    const targetId = (created.json as { volume?: { id?: string } } | undefined)?.volume?.id;
    if (created.status !== 202 || typeof targetId !== 'string') return;
    await harness.idle(20_000);
    const target = await harness.service.store.getVolume(targetId);
    if (!target || target.status !== 'available') return;
    const restored = await harness.call('admin', 'POST', `/backups/${backup.id}/restore`, { ...admin, body: { restore: { volume_id: targetId } } });
    if (restored.status !== 202) {
      if (!backup.tampered) this.#fail('restore-identical', `available backup ${backup.id} cannot be restored: ${restored.status} ${restored.text.slice(0, 300)}`);
      return;
    }
    await harness.idle(30_000);
    const after = await harness.service.store.getVolume(targetId);
    const expected = sha256(contentBytes(backup.expected as readonly Write[]));
    if (after?.status === 'available') {
      const actual = await this.#restoredDigest(after.path);
      if (actual !== expected) this.#fail('restore-identical', `backup ${backup.id}${backup.tampered ? " (its objects replaced by another backup's)" : ''} restored to different bytes (${actual.slice(0, 40)}, expected sha256 ${expected.slice(0, 12)})`);
    } else if (!backup.tampered) {
      const row = await harness.service.store.getBackup(backup.id);
      this.#fail('restore-identical', `available backup ${backup.id} (container ${JSON.stringify(row?.container)}, incremental ${row?.parent_id ? 'yes' : 'no'}) did not restore: the volume is ${after?.status}`);
    }
    await harness.call('admin', 'DELETE', `/volumes/${targetId}`, admin);
    await harness.idle(10_000);
    if (BACKUP_TRANSIENT.includes((await harness.service.store.getBackup(backup.id))?.status ?? '')) this.#fail('nothing-stuck', `backup ${backup.id} still busy after its check restore`);
  }
}
