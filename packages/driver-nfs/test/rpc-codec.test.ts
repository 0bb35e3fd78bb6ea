/**
 * The ONC-RPC layer without a real server: XDR (binary opaque data intact), record marking (multi-fragment records
 * both ways, reassembled from any split of the stream), and the client against a scripted TCP server: replies out
 * of order, AUTH_SYS as sent, a per-call timeout, a dropped connection re-established by the next call.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordDecoder, RecordMarkingError, frameRecord } from '../src/rpc/record-marking.js';
import { RpcClient, RpcConnectionError, RpcRejectedError, RpcTimeoutError } from '../src/rpc/rpc-client.js';
import { XdrError, XdrReader, XdrWriter } from '../src/rpc/xdr.js';
import { decodeReaddirPlus, decodeWrite, StableHow } from '../src/nfs3/nfs3-protocol.js';

const everyByte = Buffer.from(Array.from({ length: 256 }, (_, index) => index));

function decodeAll(stream: Buffer, splits: number[], maxRecord = 1 << 24): Buffer[] {
  const records: Buffer[] = [];
  const decoder = new RecordDecoder((record) => records.push(Buffer.from(record)), maxRecord);
  let at = 0;
  for (const size of splits) {
    decoder.push(stream.subarray(at, at + size));
    at += size;
  }
  if (at < stream.length) decoder.push(stream.subarray(at));
  return records;
}

describe('XDR', () => {
  it('round-trips every byte value in opaque data, with padding, beside integers and strings', () => {
    const big = randomBytes(5000);
    const message = new XdrWriter().uint32(7).opaque(everyByte.subarray(0, 5)).uint64(2 ** 40 + 3).string('ünïcode').opaque(big).int32(-2).bool(true).toBuffer();
    expect(message.length % 4).toBe(0);
    const reader = new XdrReader(message);
    expect(reader.uint32()).toBe(7);
    expect(reader.opaque()).toEqual(everyByte.subarray(0, 5));
    expect(reader.uint64()).toBe(2 ** 40 + 3);
    expect(reader.string()).toBe('ünïcode');
    expect(reader.opaque().equals(big)).toBe(true);
    expect(reader.int32()).toBe(-2);
    expect(reader.bool()).toBe(true);
    expect(reader.remaining).toBe(0);
  });

  it('keeps handles with bit 7 set intact (the npm nfs package decoded them as ascii)', () => {
    const handle = Buffer.from('81ff00fe7f80c3a9', 'hex');
    expect(new XdrReader(new XdrWriter().opaque(handle).toBuffer()).opaque(64)).toEqual(handle);
  });

  it('refuses truncated messages and opaque data above its bound', () => {
    expect(() => new XdrReader(Buffer.alloc(2)).uint32()).toThrow(XdrError);
    const long = new XdrWriter().opaque(Buffer.alloc(65)).toBuffer();
    expect(() => new XdrReader(long).opaque(64)).toThrow(/exceeds its bound of 64/);
    expect(() => new XdrReader(new XdrWriter().uint32(100).toBuffer()).opaque()).toThrow(/truncated/);
  });

  it('decodes a WRITE reply and a READDIRPLUS page', () => {
    const write = new XdrWriter().bool(false).bool(false).uint32(4096).uint32(StableHow.Unstable).fixedOpaque(Buffer.from('verifier'), 8).toBuffer();
    expect(decodeWrite(new XdrReader(write))).toEqual({ count: 4096, committed: StableHow.Unstable, verifier: Buffer.from('verifier') });
    const page = new XdrWriter().bool(false).fixedOpaque(Buffer.alloc(8, 1), 8);
    for (const [name, cookie] of [['a', 1n], ['b', 2n]] as const) page.bool(true).uint64(9).string(name).uint64(cookie).bool(false).bool(true).opaque(Buffer.from([0x80, 0xff]));
    page.bool(false).bool(true);
    const decoded = decodeReaddirPlus(new XdrReader(page.toBuffer()));
    expect(decoded.eof).toBe(true);
    expect(decoded.entries.map((entry) => [entry.name, entry.cookie, entry.handle])).toEqual([
      ['a', 1n, Buffer.from([0x80, 0xff])],
      ['b', 2n, Buffer.from([0x80, 0xff])],
    ]);
  });
});

describe('record marking', () => {
  it('splits a record into fragments and reassembles it from any split of the stream', () => {
    const payload = Buffer.concat([randomBytes(10_000), everyByte]);
    const pieces = [payload.subarray(0, 3), payload.subarray(3, 7000), payload.subarray(7000)];
    const framed = Buffer.concat(frameRecord(pieces, payload.length, 1000));
    // 11 fragments of at most 1000 bytes, each with its 4-byte header; the last one marked.
    expect(framed.length).toBe(payload.length + 11 * 4);
    const two = Buffer.concat([framed, Buffer.concat(frameRecord([everyByte], 256))]);
    for (const splits of [[], [1, 1, 1, 1, 1], Array.from({ length: 400 }, () => 37), [4, 1000, 3]]) {
      const records = decodeAll(two, splits);
      expect(records.length).toBe(2);
      expect(records[0]!.equals(payload)).toBe(true);
      expect(records[1]!.equals(everyByte)).toBe(true);
    }
  });

  it('frames an empty record as one last fragment', () => {
    expect(Buffer.concat(frameRecord([], 0))).toEqual(Buffer.from([0x80, 0, 0, 0]));
  });

  it('refuses a record larger than the bound instead of buffering it', () => {
    const framed = Buffer.concat(frameRecord([Buffer.alloc(3000)], 3000, 1000));
    expect(() => decodeAll(framed, [], 2500)).toThrow(RecordMarkingError);
  });
});

/** A scripted RPC server: decodes calls, hands each to `reply` (which may answer later, in pieces, or never). */
class ScriptedRpcServer {
  readonly calls: Array<{ xid: number; procedure: number; uid: number; gid: number; body: Buffer }> = [];
  readonly sockets = new Set<Socket>();
  connections = 0;
  readonly #server: Server;

  constructor(reply: (call: { xid: number; procedure: number; body: Buffer }, socket: Socket) => void) {
    this.#server = createServer((socket) => {
      this.connections += 1;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      const decoder = new RecordDecoder((record) => {
        const reader = new XdrReader(record);
        const xid = reader.uint32();
        reader.skip(4 * 4); // CALL, rpcvers, prog, vers
        const procedure = reader.uint32();
        expect(reader.uint32()).toBe(1); // AUTH_SYS
        const cred = new XdrReader(reader.opaque());
        cred.uint32();
        cred.string();
        const uid = cred.uint32();
        const gid = cred.uint32();
        reader.uint32();
        reader.opaque();
        const body = Buffer.from(reader.buffer.subarray(reader.buffer.length - reader.remaining));
        this.calls.push({ xid, procedure, uid, gid, body });
        reply({ xid, procedure, body }, socket);
      }, 1 << 24);
      socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** An accepted, successful reply carrying `results`, split into fragments of `fragment` bytes. */
function replyRecord(xid: number, results: Buffer, fragment = 1 << 30): Buffer {
  const message = new XdrWriter().uint32(xid).uint32(1).uint32(0).uint32(0).uint32(0).uint32(0).toBuffer();
  const whole = Buffer.concat([message, results]);
  return Buffer.concat(frameRecord([whole], whole.length, fragment));
}

describe('RPC client', () => {
  let server: ScriptedRpcServer | undefined;
  const clients: RpcClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server?.close();
    server = undefined;
  });
  const client = (port: number, extra: Partial<ConstructorParameters<typeof RpcClient>[0]> = {}) => {
    const made = new RpcClient({ host: '127.0.0.1', port, label: 'test server', connectTimeoutMs: 2000, maxRecordBytes: 1 << 24, auth: { uid: 1234, gid: 5678 }, ...extra });
    clients.push(made);
    return made;
  };

  it('matches replies to calls out of order, in multi-fragment records, binary data intact, AUTH_SYS as given', async () => {
    const held: Array<() => void> = [];
    server = new ScriptedRpcServer((call, socket) => {
      // Echo the body back; answer the first call last, each reply in 7-byte fragments.
      const answer = () => socket.write(replyRecord(call.xid, new XdrWriter().opaque(call.body).toBuffer(), 7));
      held.push(answer);
      if (held.length === 3) for (const send of held.reverse()) send();
    });
    const port = await server.start();
    const rpc = client(port, { maxFragmentBytes: 100 });
    const payloads = [everyByte, randomBytes(3000), Buffer.from([0x80])];
    const replies = await Promise.all(
      payloads.map((data, index) => rpc.call(100003, 3, index + 1, new XdrWriter().opaque(data), { timeoutMs: 5000, name: `P${index}` })),
    );
    replies.forEach((reply, index) => expect(new XdrReader(reply.opaque()).opaque().equals(payloads[index]!)).toBe(true));
    expect(server.calls.map((call) => [call.uid, call.gid])).toEqual([[1234, 5678], [1234, 5678], [1234, 5678]]);
    expect(rpc.outstanding).toBe(0);
  });

  it('gives up on an unanswered call after its timeout, and drops the silent connection', async () => {
    server = new ScriptedRpcServer(() => undefined);
    const port = await server.start();
    const rpc = client(port);
    const started = Date.now();
    const error = await rpc.call(100003, 3, 1, undefined, { timeoutMs: 300, name: 'NFS3 GETATTR' }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RpcTimeoutError);
    expect((error as RpcTimeoutError).code).toBe('ETIMEDOUT');
    expect(String(error)).toMatch(/no answer to NFS3 GETATTR within 0.3 s/);
    expect(Date.now() - started).toBeLessThan(3000);
    await rpc.call(100003, 3, 1, undefined, { timeoutMs: 100, name: 'again' }).catch(() => undefined);
    expect(server.connections).toBe(2);
  });

  it('fails outstanding calls when the connection drops, and reconnects for the next call', async () => {
    let drop = true;
    server = new ScriptedRpcServer((call, socket) => {
      if (drop) socket.destroy();
      else socket.write(replyRecord(call.xid, new XdrWriter().uint32(42).toBuffer()));
    });
    const port = await server.start();
    const rpc = client(port);
    const error = await rpc.call(100003, 3, 1, undefined, { timeoutMs: 5000, name: 'first' }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RpcConnectionError);
    drop = false;
    expect((await rpc.call(100003, 3, 1, undefined, { timeoutMs: 5000, name: 'second' })).uint32()).toBe(42);
    expect(server.connections).toBe(2);
  });

  it('reports a refused connection with its code, and an RPC-level refusal by name', async () => {
    server = new ScriptedRpcServer((call, socket) => {
      // MSG_ACCEPTED with PROG_UNAVAIL.
      const message = new XdrWriter().uint32(call.xid).uint32(1).uint32(0).uint32(0).uint32(0).uint32(1).toBuffer();
      socket.write(Buffer.concat(frameRecord([message], message.length)));
    });
    const port = await server.start();
    const refused = await client(1).call(100003, 3, 0, undefined, { timeoutMs: 2000, name: 'NULL' }).catch((thrown: unknown) => thrown);
    expect((refused as RpcConnectionError).code).toBe('ECONNREFUSED');
    const rejected = await client(port).call(100003, 3, 0, undefined, { timeoutMs: 2000, name: 'NULL' }).catch((thrown: unknown) => thrown);
    expect(rejected).toBeInstanceOf(RpcRejectedError);
    expect(String(rejected)).toMatch(/PROG_UNAVAIL/);
  });
});
