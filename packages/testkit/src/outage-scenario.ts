import { BackupEngine, defaultBackupPrefix, openVolumeFile, type StorageDriver } from '@stowage/core';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { generateVolumeFile } from './volume-files.js';

const MiB = 1024 * 1024;

export interface OutageScenario {
  readonly driver: StorageDriver;
  readonly container: string;
  readonly workDir: string;
  /** Stops the backend's server (e.g. the Swift proxy) and resolves once it is down. */
  readonly stopServer: () => Promise<void>;
  readonly startServer: () => Promise<void>;
}

export interface OutageOutcome {
  /** What the backup failed with while the server was down. */
  readonly error: unknown;
  /** Keys left under the backup's prefix after the server came back and the backup was deleted. */
  readonly orphans: string[];
}

/**
 * The server dies in the middle of a backup: a few chunks are stored, others are in flight. The backup must fail
 * (the caller checks with what), and once the server is back, deleting the backup must leave nothing behind.
 * Reads of the volume wait while the server is being stopped, so the backup cannot finish first.
 */
export async function runOutageDuringBackup(scenario: OutageScenario): Promise<OutageOutcome> {
  const { driver, container } = scenario;
  const engine = new BackupEngine({ driver, backendName: `${driver.driverName}-outage`, chunkSize: 2 * MiB, concurrency: 4 });
  const volumePath = join(scenario.workDir, `outage-volume-${randomUUID()}`);
  await generateVolumeFile(volumePath, { size: 48 * MiB, seed: 'outage', mix: { random: 0.7, zero: 0, text: 0.3 } });
  const backupId = randomUUID();
  const location = { container, prefix: defaultBackupPrefix(randomUUID(), backupId) };
  const volume = await openVolumeFile(volumePath);
  let stopping: Promise<void> | undefined;
  const source = {
    size: volume.size,
    read: async (target: Buffer, position: number) => {
      await stopping;
      return volume.read(target, position);
    },
    close: () => volume.close(),
  };
  let error: unknown;
  try {
    await engine.backup({
      ...location,
      backupId,
      volumeId: 'outage-volume',
      source,
      onProgress: ({ bytesDone }) => {
        if (bytesDone >= 8 * MiB && stopping === undefined) stopping = scenario.stopServer();
      },
    });
    throw new Error('the backup finished although the server was stopped during it');
  } catch (thrown) {
    error = thrown;
  } finally {
    await source.close();
    await stopping;
  }
  if (stopping === undefined) throw new Error('the backup finished before the server could be stopped');
  await scenario.startServer();
  // The engine's own clean-up could not reach the server; a delete once it is back removes whatever was stored.
  await engine.delete(location);
  const orphans: string[] = [];
  for await (const key of driver.listObjects(container, location.prefix)) orphans.push(key);
  return { error, orphans };
}
