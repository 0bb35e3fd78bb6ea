/** File-backed volumes: `volumes_dir/volume-<id>`, sparse, so N GiB cost nothing until written. */
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';

const GiB = 1024 ** 3;

export function volumeFilePath(volumesDir: string, volumeId: string): string {
  return join(volumesDir, `volume-${volumeId}`);
}

/** Create (or empty) the file at `path` with `sizeGiB` of holes. */
export async function createVolumeFile(path: string, volumesDir: string, sizeGiB: number): Promise<void> {
  await mkdir(volumesDir, { recursive: true });
  const handle = await open(path, 'w');
  try {
    await handle.truncate(sizeGiB * GiB);
  } finally {
    await handle.close();
  }
}

/** Grow the file to `sizeGiB`; the new space stays sparse. */
export async function growVolumeFile(path: string, sizeGiB: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.truncate(sizeGiB * GiB);
  } finally {
    await handle.close();
  }
}

export async function removeVolumeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
