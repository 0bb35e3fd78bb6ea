/**
 * XDR of the MOUNT v3, NFSv3 (RFC 1813) and portmapper v2 (RFC 1833) procedures the driver uses: constants, result
 * types and the codecs, as pure functions over `XdrWriter`/`XdrReader` (unit-tested without a server).
 */
import { XdrError, type XdrReader, type XdrWriter } from '../rpc/xdr.js';

export const PORTMAP_PROGRAM = 100000;
export const PORTMAP_VERSION = 2;
export const PMAPPROC_GETPORT = 3;
export const IPPROTO_TCP = 6;

export const MOUNT_PROGRAM = 100005;
export const MOUNT_VERSION = 3;
export const MOUNTPROC3_MNT = 1;
export const MOUNTPROC3_UMNT = 3;

export const NFS_PROGRAM = 100003;
export const NFS_VERSION = 3;
export const NFSPROC3 = {
  GETATTR: 1,
  LOOKUP: 3,
  READ: 6,
  WRITE: 7,
  CREATE: 8,
  MKDIR: 9,
  REMOVE: 12,
  RMDIR: 13,
  RENAME: 14,
  READDIRPLUS: 17,
  FSINFO: 19,
  COMMIT: 21,
} as const;
export type NfsProcedure = keyof typeof NFSPROC3;

/** Largest NFSv3 file handle (RFC 1813 NFS3_FHSIZE). */
export const FHSIZE3 = 64;
export const WRITE_VERIFIER_SIZE = 8;

/** nfsstat3 values by name; the reverse map names a status in messages. */
export const NFS3_STATUS: Readonly<Record<number, string>> = {
  0: 'NFS3_OK',
  1: 'NFS3ERR_PERM',
  2: 'NFS3ERR_NOENT',
  5: 'NFS3ERR_IO',
  6: 'NFS3ERR_NXIO',
  13: 'NFS3ERR_ACCES',
  17: 'NFS3ERR_EXIST',
  18: 'NFS3ERR_XDEV',
  19: 'NFS3ERR_NODEV',
  20: 'NFS3ERR_NOTDIR',
  21: 'NFS3ERR_ISDIR',
  22: 'NFS3ERR_INVAL',
  27: 'NFS3ERR_FBIG',
  28: 'NFS3ERR_NOSPC',
  30: 'NFS3ERR_ROFS',
  31: 'NFS3ERR_MLINK',
  63: 'NFS3ERR_NAMETOOLONG',
  66: 'NFS3ERR_NOTEMPTY',
  69: 'NFS3ERR_DQUOT',
  70: 'NFS3ERR_STALE',
  71: 'NFS3ERR_REMOTE',
  10001: 'NFS3ERR_BADHANDLE',
  10002: 'NFS3ERR_NOT_SYNC',
  10003: 'NFS3ERR_BAD_COOKIE',
  10004: 'NFS3ERR_NOTSUPP',
  10005: 'NFS3ERR_TOOSMALL',
  10006: 'NFS3ERR_SERVERFAULT',
  10007: 'NFS3ERR_BADTYPE',
  10008: 'NFS3ERR_JUKEBOX',
};

/** mountstat3 values by name. */
export const MOUNT3_STATUS: Readonly<Record<number, string>> = {
  0: 'MNT3_OK',
  1: 'MNT3ERR_PERM',
  2: 'MNT3ERR_NOENT',
  5: 'MNT3ERR_IO',
  13: 'MNT3ERR_ACCES',
  20: 'MNT3ERR_NOTDIR',
  22: 'MNT3ERR_INVAL',
  63: 'MNT3ERR_NAMETOOLONG',
  10004: 'MNT3ERR_NOTSUPP',
  10006: 'MNT3ERR_SERVERFAULT',
};

export const NFS3_OK = 0;

export enum StableHow {
  Unstable = 0,
  DataSync = 1,
  FileSync = 2,
}

export enum FileType {
  Regular = 1,
  Directory = 2,
  BlockDevice = 3,
  CharDevice = 4,
  Symlink = 5,
  Socket = 6,
  Fifo = 7,
}

export interface FileAttributes {
  readonly type: FileType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly fileId: bigint;
  /** Modification time, milliseconds since the epoch. */
  readonly mtimeMs: number;
}

export interface FsInfo {
  readonly rtmax: number;
  readonly rtpref: number;
  readonly wtmax: number;
  readonly wtpref: number;
  readonly dtpref: number;
  readonly maxFileSize: number;
}

export interface WriteResult {
  readonly count: number;
  readonly committed: StableHow;
  readonly verifier: Buffer;
}

export interface ReadResult {
  readonly data: Buffer;
  readonly eof: boolean;
}

export interface DirEntry {
  readonly name: string;
  readonly cookie: bigint;
  readonly attributes: FileAttributes | undefined;
  readonly handle: Buffer | undefined;
}

export interface DirPage {
  readonly entries: DirEntry[];
  readonly cookieVerifier: Buffer;
  readonly eof: boolean;
}

// ---- encoders ------------------------------------------------------------------------------------------------------

export function encodeHandle(writer: XdrWriter, handle: Buffer): XdrWriter {
  return writer.opaque(handle);
}

export function encodeDirOp(writer: XdrWriter, dir: Buffer, name: string): XdrWriter {
  return writer.opaque(dir).string(name);
}

/** sattr3 setting only the mode (ownership follows the caller's AUTH_SYS identity). */
export function encodeModeOnly(writer: XdrWriter, mode: number | undefined): XdrWriter {
  if (mode === undefined) writer.bool(false);
  else writer.bool(true).uint32(mode);
  // uid, gid, size: unchanged; atime, mtime: DONT_CHANGE.
  return writer.bool(false).bool(false).bool(false).uint32(0).uint32(0);
}

export const CREATE_GUARDED = 1;
export const CREATE_UNCHECKED = 0;

// ---- decoders ------------------------------------------------------------------------------------------------------

export function decodeFattr(reader: XdrReader): FileAttributes {
  const type = reader.uint32() as FileType;
  const mode = reader.uint32();
  reader.uint32(); // nlink
  const uid = reader.uint32();
  const gid = reader.uint32();
  const size = reader.uint64();
  reader.skip(8 + 8 + 8); // used, rdev, fsid
  const fileId = reader.uint64Big();
  reader.skip(8); // atime
  const mtimeMs = reader.uint32() * 1000 + Math.floor(reader.uint32() / 1e6);
  reader.skip(8); // ctime
  return { type, mode, uid, gid, size, fileId, mtimeMs };
}

export function decodePostOpAttr(reader: XdrReader): FileAttributes | undefined {
  return reader.bool() ? decodeFattr(reader) : undefined;
}

export function decodePostOpHandle(reader: XdrReader): Buffer | undefined {
  return reader.bool() ? decodeHandle(reader) : undefined;
}

export function decodeHandle(reader: XdrReader): Buffer {
  // Copied: a handle outlives the reply it came in, which may hold megabytes of READ data.
  return Buffer.from(reader.opaque(FHSIZE3));
}

export function skipWcc(reader: XdrReader): void {
  if (reader.bool()) reader.skip(24); // pre_op_attr: size, mtime, ctime
  decodePostOpAttr(reader);
}

export function decodeFsInfo(reader: XdrReader): FsInfo {
  decodePostOpAttr(reader);
  const rtmax = reader.uint32();
  const rtpref = reader.uint32();
  reader.uint32(); // rtmult
  const wtmax = reader.uint32();
  const wtpref = reader.uint32();
  reader.uint32(); // wtmult
  const dtpref = reader.uint32();
  const maxBig = reader.uint64Big();
  const maxFileSize = maxBig > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(maxBig);
  return { rtmax, rtpref, wtmax, wtpref, dtpref, maxFileSize };
}

export function decodeWrite(reader: XdrReader): WriteResult {
  skipWcc(reader);
  const count = reader.uint32();
  const committed = reader.uint32() as StableHow;
  const verifier = Buffer.from(reader.fixedOpaque(WRITE_VERIFIER_SIZE));
  return { count, committed, verifier };
}

export function decodeRead(reader: XdrReader): ReadResult {
  decodePostOpAttr(reader);
  const count = reader.uint32();
  const eof = reader.bool();
  const data = reader.opaque();
  if (data.length !== count) throw new XdrError(`READ reply says ${count} bytes but carries ${data.length}`);
  return { data, eof };
}

export function decodeReaddirPlus(reader: XdrReader): DirPage {
  decodePostOpAttr(reader);
  const cookieVerifier = Buffer.from(reader.fixedOpaque(8));
  const entries: DirEntry[] = [];
  while (reader.bool()) {
    reader.uint64Big(); // fileid
    const name = reader.string(4096);
    const cookie = reader.uint64Big();
    const attributes = decodePostOpAttr(reader);
    const handle = decodePostOpHandle(reader);
    entries.push({ name, cookie, attributes, handle });
  }
  return { entries, cookieVerifier, eof: reader.bool() };
}
