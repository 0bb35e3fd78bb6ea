import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { NotificationMessage, NotificationSink } from '@stowage/core';

/** Writes each notification as one JSON line, to stdout or appended to a file. */
export class LogNotificationSink implements NotificationSink {
  readonly name: string;
  readonly #stream: NodeJS.WritableStream;
  readonly #file: WriteStream | undefined;

  constructor(path?: string) {
    if (path) {
      mkdirSync(dirname(path), { recursive: true });
      this.#file = createWriteStream(path, { flags: 'a' });
      this.#stream = this.#file;
      this.name = `log ${path}`;
    } else {
      this.#file = undefined;
      this.#stream = process.stdout;
      this.name = 'log stdout';
    }
  }

  async send(message: NotificationMessage<object>): Promise<void> {
    this.#stream.write(`${JSON.stringify({ notification: message })}\n`);
  }

  async close(): Promise<void> {
    const file = this.#file;
    if (file) await new Promise<void>((resolve) => file.end(resolve));
  }
}
