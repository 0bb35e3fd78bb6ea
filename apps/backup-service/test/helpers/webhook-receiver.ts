import { createServer, type Server } from 'node:http';

export interface ReceivedNotification {
  readonly event_type: string;
  readonly publisher_id: string;
  readonly timestamp: string;
  readonly priority: string;
  readonly payload: Record<string, unknown>;
  readonly receivedAt: number;
}

/** An HTTP server on loopback that records POSTed notifications. */
export class WebhookReceiver {
  readonly messages: ReceivedNotification[] = [];
  #server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.#server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        try {
          this.messages.push({ ...(JSON.parse(body) as Omit<ReceivedNotification, 'receivedAt'>), receivedAt: Date.now() });
        } catch {
          // ignore malformed posts
        }
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/notify`;
    return this;
  }

  events(eventType: string): ReceivedNotification[] {
    return this.messages.filter((message) => message.event_type === eventType);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
