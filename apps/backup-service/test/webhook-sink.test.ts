import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Notifier, type NotificationMessage } from '@stowage/core';
import { WebhookNotificationSink } from '../src/notifications/webhook-sink.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(handler: (attempt: number, body: string, respond: (status: number) => void) => void): Promise<string> {
  let attempt = 0;
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => handler(++attempt, body, (status) => response.writeHead(status).end()));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
}

const message: NotificationMessage<object> = {
  message_id: 'm1', event_type: 'backup.init.end', publisher_id: 'backup.h', timestamp: '2026-01-01 00:00:00.000000', priority: 'INFO', payload: { backend: 'b' },
};

describe('WebhookNotificationSink', () => {
  it('POSTs the JSON message and retries 5xx', async () => {
    const bodies: string[] = [];
    const url = await serve((attempt, body, respond) => {
      bodies.push(body);
      respond(attempt < 3 ? 503 : 204);
    });
    await new WebhookNotificationSink({ url, timeoutMs: 1000, retries: 3, backoffMs: 10 }).send(message);
    expect(bodies).toHaveLength(3);
    expect(JSON.parse(bodies[0]!)).toEqual(message);
  });

  it('gives up after bounded retries, with a per-attempt timeout, and does not retry 4xx', async () => {
    const url = await serve(() => undefined); // never answers
    const started = Date.now();
    await expect(new WebhookNotificationSink({ url, timeoutMs: 100, retries: 1, backoffMs: 10 }).send(message)).rejects.toThrow(
      /backup.init.end not delivered to webhook http:\/\/127.0.0.1:\d+ after 2 attempt\(s\)/,
    );
    expect(Date.now() - started).toBeLessThan(1000);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server!.closeAllConnections();
    let calls = 0;
    const url400 = await serve((_attempt, _body, respond) => {
      calls += 1;
      respond(400);
    });
    await expect(new WebhookNotificationSink({ url: url400, timeoutMs: 1000, retries: 3, backoffMs: 10 }).send(message)).rejects.toThrow(/HTTP 400/);
    expect(calls).toBe(1);
  });

  it('a hanging webhook never blocks the notifier', async () => {
    const url = await serve(() => undefined);
    const notifier = new Notifier({ host: 'h', sinks: [new WebhookNotificationSink({ url, timeoutMs: 5000, retries: 0 })] });
    const started = Date.now();
    notifier.notify('backup.create.start', {});
    expect(Date.now() - started).toBeLessThan(20);
    await notifier.close(50);
    server!.closeAllConnections();
  });
});
