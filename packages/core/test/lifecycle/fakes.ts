import { DriverSetupError, type CallOptions, type StorageDriver } from '@stowage/driver-contract';
import type { NotificationMessage, NotificationSink } from '../../src/lifecycle/notifier.js';

/** A sink that keeps every message, for assertions. */
export class MemorySink implements NotificationSink {
  readonly name = 'memory';
  readonly messages: NotificationMessage<object>[] = [];
  async send(message: NotificationMessage<object>): Promise<void> {
    this.messages.push(message);
  }
  events(): string[] {
    return this.messages.map((message) => message.event_type);
  }
  payloads(eventType: string): Record<string, unknown>[] {
    return this.messages.filter((m) => m.event_type === eventType).map((m) => m.payload as Record<string, unknown>);
  }
}

/** A driver whose doSetup behaviour is scripted per attempt: 'ok', 'fail' or 'hang'. */
export function scriptedDriver(script: () => 'ok' | 'fail' | 'hang') {
  const stats = { setups: 0, concurrent: 0, maxConcurrent: 0 };
  const driver: StorageDriver = {
    driverName: 'scripted',
    capabilities: { maxObjectSize: 1 << 20, preferredConcurrency: 1, verifiesPutChecksum: false },
    defaultContainer: 'backups',
    async doSetup(options?: CallOptions) {
      stats.setups += 1;
      stats.concurrent += 1;
      stats.maxConcurrent = Math.max(stats.maxConcurrent, stats.concurrent);
      try {
        const step = script();
        if (step === 'hang') {
          await new Promise<void>((resolve) => options?.signal?.addEventListener('abort', () => resolve(), { once: true }));
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (step === 'fail') throw new DriverSetupError('storage path is not a directory', { backend: 'b1' });
      } finally {
        stats.concurrent -= 1;
      }
    },
    async checkAvailable() {},
    async ensureContainer() {},
    async putObject() {},
    async getObject() {
      return (async function* () {})();
    },
    async deleteObject() {},
    async *listObjects() {},
  };
  return { driver, stats };
}

export async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
