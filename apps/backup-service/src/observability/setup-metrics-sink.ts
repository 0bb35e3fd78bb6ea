/**
 * Counts driver setup attempts and failures from the lifecycle's own init notifications (`backup.init.start`,
 * `backup.init.error`): the lifecycle already announces every attempt, so the metrics need no hook of their own.
 */
import { BackupEvents, type NotificationMessage, type NotificationSink } from '@stowage/core';
import type { ServiceMetrics } from './metrics.js';

export function setupMetricsSink(metrics: ServiceMetrics, backends: ReadonlySet<string>): NotificationSink {
  return {
    name: 'metrics',
    async send(message: NotificationMessage<object>) {
      if (message.event_type !== BackupEvents.initStart && message.event_type !== BackupEvents.initError) return;
      const backend = (message.payload as { backend?: unknown }).backend;
      // Only configured names become label values.
      if (typeof backend !== 'string' || !backends.has(backend)) return;
      if (message.event_type === BackupEvents.initStart) metrics.setupStarted(backend);
      else metrics.setupFailed(backend);
    },
  };
}
