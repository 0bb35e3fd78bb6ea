/**
 * One Stowage operation in its own process, so the parent can measure its peak RSS alone.
 * Usage: node dist/child/stowage-run.js '<ChildRequest JSON>'; prints one ChildReport JSON line on stdout.
 */
// First, as the service's CLI does: libuv's thread pool sized for the engine before anything uses it.
import '@stowage/core/thread-pool';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChildEncryption, ChildReport, ChildRequest, DriverSpec, PhaseTimes } from './protocol.js';
import { instrumentDriver, instrumentSource, instrumentTarget } from './instrument.js';
import { runMicro } from './micro.js';
import { rawGcs, rawS3, rawSwift } from './raw-network.js';

const bootSeconds = performance.now() / 1000;
const phases: PhaseTimes = {
  read_s: 0,
  read_calls: 0,
  put_s: 0,
  put_calls: 0,
  get_s: 0,
  get_calls: 0,
  write_s: 0,
  write_calls: 0,
  flush_s: 0,
};

async function loadDriver(spec: DriverSpec) {
  const core = await import('@stowage/core');
  const loaded = (await import(spec.module)) as { default?: unknown };
  const plugin = loaded.default as import('@stowage/core').DriverPlugin | undefined;
  if (plugin === undefined || plugin.contract !== core.DRIVER_CONTRACT_V1 || typeof plugin.create !== 'function') {
    throw new Error(`${spec.module} does not export a ${core.DRIVER_CONTRACT_V1} driver plugin as its default export`);
  }
  const options = await core.validateOptions(plugin.optionsSchema, spec.options, 'bench.driver.options');
  const driver = plugin.create(options, { backendName: `bench-${plugin.name}`, statePath: '/tmp' });
  await driver.doSetup();
  return { core, driver: instrumentDriver(driver, phases) };
}

function dataKey(encryption: ChildEncryption | undefined): { keyId: string; key: Buffer } | undefined {
  return encryption === undefined ? undefined : { keyId: encryption.keyId, key: Buffer.from(encryption.keyBase64, 'base64') };
}

async function run(request: ChildRequest): Promise<{ setup_s: number; work_s: number; busy: number; result: Record<string, unknown> }> {
  const setupStart = performance.now();
  const context = 'driver' in request ? await loadDriver(request.driver) : undefined;
  const setup_s = (performance.now() - setupStart) / 1000;
  const eluStart = performance.eventLoopUtilization();
  const workStart = performance.now();
  const result = await work(request, context);
  const work_s = (performance.now() - workStart) / 1000;
  const busy = performance.eventLoopUtilization(eluStart).utilization;
  await context?.driver.close?.();
  return { setup_s, work_s, busy, result };
}

async function work(request: ChildRequest, context: Awaited<ReturnType<typeof loadDriver>> | undefined): Promise<Record<string, unknown>> {
  switch (request.op) {
    case 'backup': {
      const { core, driver } = context!;
      const engine = new core.BackupEngine({ ...request.engine, driver, backendName: 'bench' });
      const source = instrumentSource(await core.openVolumeFile(request.volumePath), phases);
      try {
        const result = await engine.backup({
          ...request.location,
          backupId: request.backupId,
          volumeId: request.volumeId,
          source,
          parent: request.parent,
          encryption: dataKey(request.encryption),
        });
        return {
          storedBytes: result.storedBytes,
          changedBytes: result.changedBytes,
          objectCount: result.objectCount,
          chunkSize: engine.chunkSize,
          concurrency: engine.concurrency,
        };
      } finally {
        await source.close();
      }
    }
    case 'restore': {
      const { core, driver } = context!;
      const engine = new core.BackupEngine({ ...request.engine, driver, backendName: 'bench' });
      const target = instrumentTarget(await core.openRestoreFile(request.targetPath), phases);
      try {
        const result = await engine.restore({ ...request.location, target, encryption: dataKey(request.encryption) });
        return { bytesWritten: result.bytesWritten, objectsRead: result.objectsRead, chain: result.chain };
      } finally {
        await target.close();
      }
    }
    case 'driver-put': {
      const { core, driver } = context!;
      await driver.ensureContainer(request.container);
      let objects = 0;
      await eachChunk(request.volumePath, request.chunkSize, request.concurrency, async (chunk, index) => {
        const sha256 = core.sha256(chunk).toString('hex');
        await driver.putObject(request.container, `${request.prefix}raw-${index}`, chunk, { length: chunk.length, sha256 });
        objects += 1;
      });
      return { objects };
    }
    case 'raw-files': {
      await mkdir(request.directory, { recursive: true });
      let objects = 0;
      await eachChunk(request.volumePath, request.chunkSize, request.concurrency, async (chunk, index) => {
        const started = performance.now();
        const handle = await open(join(request.directory, `raw-${index}`), 'w');
        try {
          await handle.writeFile(chunk);
          await handle.sync();
        } finally {
          await handle.close();
        }
        phases.put_s += (performance.now() - started) / 1000;
        phases.put_calls += 1;
        objects += 1;
      });
      return { objects };
    }
    case 'raw-swift':
      return rawSwift(request, (path, size, concurrency, task) => eachChunk(path, size, concurrency, task), phases);
    case 'raw-s3-sdk':
      return rawS3(request, (path, size, concurrency, task) => eachChunk(path, size, concurrency, task), phases);
    case 'raw-gcs-library':
      return rawGcs(request, (path, size, concurrency, task) => eachChunk(path, size, concurrency, task), phases);
    case 'micro':
      return runMicro(request.volumePath);
  }
}

/** Read the volume chunk by chunk with at most `concurrency` chunk tasks in flight, like the engine does. */
async function eachChunk(
  path: string,
  chunkSize: number,
  concurrency: number,
  task: (chunk: Buffer, index: number) => Promise<void>,
): Promise<void> {
  const { TaskWindow, openVolumeFile } = await import('@stowage/core');
  const source = instrumentSource(await openVolumeFile(path), phases);
  const window = new TaskWindow(concurrency);
  const spare: Buffer[] = [];
  try {
    for (let offset = 0, index = 0; offset < source.size; offset += chunkSize, index += 1) {
      const buffer = spare.pop() ?? Buffer.allocUnsafe(chunkSize);
      const chunk = buffer.subarray(0, Math.min(chunkSize, source.size - offset));
      await source.read(chunk, offset);
      await window.add(async () => {
        try {
          await task(chunk, index);
        } finally {
          spare.push(buffer);
        }
      });
    }
    await window.drain();
  } finally {
    await source.close();
  }
}

const request = JSON.parse(process.argv[2] ?? 'null') as ChildRequest | null;
if (request === null) {
  process.stderr.write('usage: stowage-run.js <request JSON>\n');
  process.exit(2);
}
const outcome = await run(request);
const report: ChildReport = {
  op: request.op,
  boot_s: bootSeconds,
  setup_s: outcome.setup_s,
  work_s: outcome.work_s,
  main_thread_busy: outcome.busy,
  max_rss_mib: process.resourceUsage().maxRSS / 1024,
  phases,
  result: outcome.result,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
