import type { NotificationSink } from '@stowage/core';
import type { NotificationSinkConfig } from '../config/config-schema.js';
import { LogNotificationSink } from './log-sink.js';
import { WebhookNotificationSink } from './webhook-sink.js';

export function createSinks(configs: readonly NotificationSinkConfig[]): NotificationSink[] {
  return configs.map((config) =>
    config.type === 'log'
      ? new LogNotificationSink(config.path)
      : new WebhookNotificationSink({ url: config.url, timeoutMs: config.timeout_seconds * 1000, retries: config.retries, headers: config.headers }),
  );
}
