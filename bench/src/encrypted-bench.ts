/**
 * Encrypted Stowage runs beside plain ones: full backup and restore of the bench volume, each plain and encrypted
 * (AES-256-GCM on the codec workers) in alternation within the same rounds, so machine load hits both alike.
 * The issue's target: encrypted within 1.15x of plain.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildEncryption } from './child/protocol.js';
import type { BenchOptions } from './options.js';
import { median, round } from './stats.js';
import { backupLocation, posixDriverSpec, runStowageChild } from './tools/stowage-tool.js';
import { sha256File, type BaseVolume } from './volume.js';
import type { Target } from './main.js';

export interface EncryptionComparison {
  readonly volume_mib: number;
  readonly rounds: number;
  readonly full: ModeTimes;
  readonly restore: ModeTimes;
  readonly stored_bytes: { readonly plain: number; readonly encrypted: number };
  readonly peak_rss_mib: { readonly plain: number; readonly encrypted: number };
  /** The encrypted backup's restore gave back the volume. */
  readonly sha256_ok: boolean;
}

interface ModeTimes {
  readonly plain_s: number;
  readonly encrypted_s: number;
  /** encrypted / plain (median wall times). */
  readonly ratio: number;
  readonly plain_samples_s: number[];
  readonly encrypted_samples_s: number[];
}

export async function runEncryptionComparison(options: BenchOptions, base: BaseVolume): Promise<{ results: EncryptionComparison; targets: Target[] }> {
  const directory = join(options.workDir, 'encryption');
  const key: ChildEncryption = { keyId: randomUUID(), keyBase64: randomBytes(32).toString('base64') };
  const samples = { full: { plain: [] as number[], encrypted: [] as number[] }, restore: { plain: [] as number[], encrypted: [] as number[] } };
  const stored = { plain: 0, encrypted: 0 };
  const rss = { plain: 0, encrypted: 0 };
  let sha256Ok = true;
  console.log(`\nencryption: Stowage full backup and restore, plain and encrypted alternately, ${options.warmup} warm-up + ${options.rounds} rounds`);
  for (let index = 0; index < options.warmup + options.rounds; index += 1) {
    const counted = index >= options.warmup;
    // Alternate which mode goes first, so neither always runs on a warmer cache.
    const modes = index % 2 === 0 ? (['plain', 'encrypted'] as const) : (['encrypted', 'plain'] as const);
    for (const mode of modes) {
      const repository = join(directory, mode, 'repository');
      await rm(join(directory, mode), { recursive: true, force: true });
      await mkdir(repository, { recursive: true });
      const encryption = mode === 'encrypted' ? key : undefined;
      const location = backupLocation('full');
      const backup = await runStowageChild({
        op: 'backup',
        driver: posixDriverSpec(repository),
        volumePath: base.path,
        volumeId: 'bench-volume',
        backupId: 'full',
        location,
        encryption,
      });
      const targetPath = join(directory, mode, 'restored.img');
      const restore = await runStowageChild({ op: 'restore', driver: posixDriverSpec(repository), location, targetPath, encryption });
      if (index === 0 && mode === 'encrypted') sha256Ok = (await sha256File(targetPath)) === base.sha256;
      if (counted) {
        samples.full[mode].push(backup.measured.wall_s);
        samples.restore[mode].push(restore.measured.wall_s);
        stored[mode] = Number((backup.report.result as { storedBytes?: number }).storedBytes ?? 0);
        rss[mode] = Math.max(rss[mode], backup.measured.peak_rss_mib, restore.measured.peak_rss_mib);
      }
      console.log(`  ${counted ? `round ${index - options.warmup + 1}` : 'warm-up'} ${mode.padEnd(9)} full ${backup.measured.wall_s.toFixed(2)} s, restore ${restore.measured.wall_s.toFixed(2)} s`);
    }
  }
  await rm(directory, { recursive: true, force: true });
  const times = (scenario: 'full' | 'restore'): ModeTimes => {
    const plain = median(samples[scenario].plain);
    const encrypted = median(samples[scenario].encrypted);
    return {
      plain_s: round(plain),
      encrypted_s: round(encrypted),
      ratio: round(encrypted / plain),
      plain_samples_s: samples[scenario].plain.map((value) => round(value)),
      encrypted_samples_s: samples[scenario].encrypted.map((value) => round(value)),
    };
  };
  const results: EncryptionComparison = {
    volume_mib: base.sizeMib,
    rounds: options.rounds,
    full: times('full'),
    restore: times('restore'),
    stored_bytes: stored,
    peak_rss_mib: { plain: round(rss.plain, 1), encrypted: round(rss.encrypted, 1) },
    sha256_ok: sha256Ok,
  };
  const targets: Target[] = (['full', 'restore'] as const).map((scenario) => ({
    name: `encrypted ${scenario} vs plain, same rounds`,
    required: '<= 1.15x',
    measured: results[scenario].ratio,
    pass: results[scenario].ratio <= 1.15,
  }));
  targets.push({ name: 'encrypted restore identical (1 = yes)', required: '= 1', measured: sha256Ok ? 1 : 0, pass: sha256Ok });
  return { results, targets };
}
