/**
 * Whole-object reads and writes with several SFTP requests in flight. ssh2's read stream asks for 64 KiB and waits
 * for it before asking again, and a large write is sent piece after piece, each waiting for the previous answer:
 * one round trip per piece. OpenSSH's own client keeps 64 requests of 32 KiB in flight; this keeps 16 of 128 KiB
 * (2 MiB per connection; 32 in flight measured no better on loopback).
 */
import type { SFTPWrapper, Stats } from 'ssh2';
import type SftpClient from 'ssh2-sftp-client';

const PIECE = 128 * 1024;
const IN_FLIGHT = 16;

/** The SFTP session of a connected client (the library's typings leave it out). */
function sessionOf(client: SftpClient): SFTPWrapper {
  const session = (client as unknown as { sftp?: SFTPWrapper }).sftp;
  if (session === undefined) throw Object.assign(new Error('the SFTP session is closed'), { code: 'ECONNRESET' });
  return session;
}

function callback<T>(start: (done: (error: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value))));
}

/** `transfer(offset, length)` over `size` bytes in pieces, up to IN_FLIGHT at once. */
async function inPieces(size: number, transfer: (offset: number, length: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < size) {
      const offset = next;
      next += PIECE;
      await transfer(offset, Math.min(PIECE, size - offset));
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, Math.ceil(size / PIECE)) }, worker));
}

/** Open `path`, run `work` on the handle, close it: awaited after success, left to finish after a failure. */
async function withHandle<T>(session: SFTPWrapper, path: string, flags: 'r' | 'w', work: (handle: Buffer) => Promise<T>): Promise<T> {
  const handle = await callback<Buffer>((done) => session.open(path, flags, done));
  let result: T;
  try {
    result = await work(handle);
  } catch (error) {
    session.close(handle, () => undefined);
    throw error;
  }
  // A write is complete only once its close is acknowledged.
  await callback<void>((done) => session.close(handle, done));
  return result;
}

export async function writeWhole(client: SftpClient, path: string, data: Uint8Array): Promise<void> {
  const session = sessionOf(client);
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  await withHandle(session, path, 'w', (handle) =>
    inPieces(buffer.length, (offset, length) => callback<void>((done) => session.write(handle, buffer, offset, length, offset, done))),
  );
}

/** The whole file, into `target` when given (RangeError when it is too small), else into a new Buffer. */
export async function readWhole(client: SftpClient, path: string, target?: Uint8Array): Promise<{ data: Buffer; length: number }> {
  const session = sessionOf(client);
  return withHandle(session, path, 'r', async (handle) => {
    const { size } = await callback<Stats>((done) => session.fstat(handle, done));
    if (target !== undefined && size > target.length) throw new RangeError(`object ${path} has ${size} bytes, more than the ${target.length} expected`);
    const data = target === undefined ? Buffer.allocUnsafe(size) : Buffer.from(target.buffer, target.byteOffset, target.byteLength);
    await inPieces(size, async (offset, length) => {
      for (let done = 0; done < length; ) {
        const read = await callback<number>((finish) => session.read(handle, data, offset + done, length - done, offset + done, finish));
        if (read === 0) throw new Error(`object ${path} ended at ${offset + done} of its ${size} bytes (changed while read)`);
        done += read;
      }
    });
    return { data: data.subarray(0, size), length: size };
  });
}
