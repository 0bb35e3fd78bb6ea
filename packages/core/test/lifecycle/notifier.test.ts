import { describe, expect, it } from 'vitest';
import { Notifier, formatNotificationTimestamp, type NotificationSink } from '../../src/lifecycle/notifier.js';
import { MemorySink } from './fakes.js';

describe('Notifier', () => {
  it('sends OpenStack-shaped messages to every sink', async () => {
    const a = new MemorySink();
    const b = new MemorySink();
    const notifier = new Notifier({ host: 'node1', sinks: [a, b] });
    const message = notifier.notify('backup.create.start', { backup_id: 'x' });
    await notifier.flush(100);
    expect(message).toMatchObject({ event_type: 'backup.create.start', publisher_id: 'backup.node1', priority: 'INFO', payload: { backup_id: 'x' } });
    expect(message.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
    expect(message.message_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.messages).toHaveLength(1);
    expect(b.messages).toHaveLength(1);
  });

  it('a slow sink never blocks and a broken sink never fails the caller', async () => {
    const errors: string[] = [];
    const slow: NotificationSink = { name: 'slow', send: () => new Promise((resolve) => setTimeout(resolve, 10_000)) };
    const broken: NotificationSink = {
      name: 'broken',
      send: () => {
        throw new Error('boom');
      },
    };
    const rejecting: NotificationSink = { name: 'rejecting', send: async () => Promise.reject(new Error('refused')) };
    const good = new MemorySink();
    const notifier = new Notifier({
      host: 'h',
      sinks: [slow, broken, rejecting, good],
      onSinkError: (sink, _message, error) => errors.push(`${sink.name}: ${(error as Error).message}`),
    });
    const started = Date.now();
    notifier.notify('backup.init.end', {});
    expect(Date.now() - started).toBeLessThan(50);
    const stillPending = await notifier.flush(50);
    expect(stillPending).toBe(1);
    expect(good.messages).toHaveLength(1);
    expect(errors.sort()).toEqual(['broken: boom', 'rejecting: refused']);
  });

  it('drops messages to a sink with too many deliveries in flight, and says so', async () => {
    const errors: string[] = [];
    const stuck: NotificationSink = { name: 'stuck', send: () => new Promise(() => undefined) };
    const notifier = new Notifier({ host: 'h', sinks: [stuck], maxInFlightPerSink: 2, onSinkError: (_s, _m, e) => errors.push((e as Error).message) });
    for (let i = 0; i < 3; i += 1) notifier.notify('e', {});
    expect(notifier.pendingDeliveries).toBe(2);
    expect(errors[0]).toMatch(/stuck has 2 deliveries in flight/);
  });

  it('formats timestamps as oslo.messaging does', () => {
    expect(formatNotificationTimestamp(new Date('2026-11-26T03:48:03.123Z'))).toBe('2026-11-26 03:48:03.123000');
  });
});
