#!/usr/bin/env node
// A throwaway Google Cloud Storage emulator on 127.0.0.1, for the driver-gcs tests: firebase-tools' StorageEmulator
// run in its own Node process (no Java, no download; see TEST-SERVERS.md), with everything in a state folder.
//
//   gcs-emulator.mjs start <state> [--watch-pid P]  start the emulator on a free port, wait until `GET /b` is 200;
//                                                   writes <state>/endpoints.json and prints it; with --watch-pid,
//                                                   the emulator stops by itself once process P is gone
//   gcs-emulator.mjs stop <state>                   stop it by PID (its objects are kept in <state>/data)
//   gcs-emulator.mjs stop-server <state> emulator   the same, for fault tests (the shape of swift.sh)
//   gcs-emulator.mjs start-server <state> emulator  start it again on the same port, with the objects it had
//   gcs-emulator.mjs status <state>                 one line: pid, port, up/down
//   gcs-emulator.mjs serve <state>                  (internal) run the emulator in this process
//
// The emulator keeps objects in memory and blobs under $TMPDIR/firebase/storage/blobs: its process gets its own
// TMPDIR (and HOME, where firebase-tools keeps its config) inside the state folder. On SIGTERM it exports its objects
// to <state>/data and the next start imports them, so a stopped and restarted emulator behaves like a server whose
// disks survived. The classes used are firebase-tools internals: the version is pinned in packages/driver-gcs.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection, createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(import.meta.url);
const REPO_ROOT = resolve(dirname(SCRIPT), '..', '..');
const PROJECT_ID = 'stowage-test';
const READY_WITHIN_MS = 60_000;
// Stopping exports every object first (a copy of each blob): generous for a few GiB on a busy machine.
const STOP_WITHIN_MS = 120_000;

function die(message) {
  process.stderr.write(`gcs-emulator: ${message}\n`);
  process.exit(1);
}

const log = (message) => process.stderr.write(`gcs-emulator: ${message}\n`);

const paths = (state) => ({
  state,
  pid: join(state, 'pids', 'emulator.pid'),
  port: join(state, 'port'),
  watch: join(state, 'watch-pid'),
  tmp: join(state, 'tmp'),
  home: join(state, 'home'),
  data: join(state, 'data'),
  log: join(state, 'log', 'emulator.log'),
  endpoints: join(state, 'endpoints.json'),
});

const readText = (file) => (existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined);

/** Running and not a zombie (daemons here are reaped late by PID 1: `kill -0` alone would say alive). */
function pidAlive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function portListening(port) {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    const settle = (listening) => {
      socket.destroy();
      done(listening);
    };
    socket.once('connect', () => settle(true));
    socket.once('timeout', () => settle(false));
    socket.once('error', () => settle(false));
  });
}

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function ready(port) {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/b`, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

function writeEndpoints(p, port) {
  const endpoints = { state: p.state, script: SCRIPT, endpoint: `http://127.0.0.1:${port}`, projectId: PROJECT_ID, port };
  writeFileSync(p.endpoints, `${JSON.stringify(endpoints, null, 2)}\n`);
  return endpoints;
}

/** Starts the emulator process (port recorded in the state) and waits until it serves `GET /b`. */
async function startServer(p) {
  const running = readText(p.pid);
  if (running !== undefined && pidAlive(Number(running))) {
    log(`already running (pid ${running})`);
    return;
  }
  const port = Number(readText(p.port));
  if (await portListening(port)) die(`port ${port} is already in use: stop what listens there or start in a new state folder`);
  for (const folder of [dirname(p.pid), p.tmp, p.home, dirname(p.log)]) mkdirSync(folder, { recursive: true });
  const out = openSync(p.log, 'a');
  const child = spawn(process.execPath, [SCRIPT, 'serve', p.state], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, TMPDIR: p.tmp, HOME: p.home, XDG_CONFIG_HOME: join(p.home, '.config') },
  });
  closeSync(out);
  child.unref();
  writeFileSync(p.pid, `${child.pid}\n`);
  const started = Date.now();
  while (Date.now() - started < READY_WITHIN_MS) {
    if (!pidAlive(child.pid)) die(`the emulator exited during start-up; last log lines:\n${tail(p.log)}`);
    if (await ready(port)) {
      log(`ready in ${Date.now() - started} ms on 127.0.0.1:${port} (pid ${child.pid})`);
      return;
    }
    await sleep(100);
  }
  await stopServer(p);
  die(`the emulator did not answer GET /b within ${READY_WITHIN_MS / 1000} s; see ${p.log}`);
}

async function stopServer(p) {
  const pid = Number(readText(p.pid));
  if (!pid) return;
  const port = Number(readText(p.port));
  if (pidAlive(pid)) {
    process.kill(pid, 'SIGTERM');
    const started = Date.now();
    while (Date.now() - started < STOP_WITHIN_MS && (pidAlive(pid) || (await portListening(port)))) await sleep(100);
    if (pidAlive(pid)) {
      log(`pid ${pid} ignored SIGTERM for ${STOP_WITHIN_MS / 1000} s: SIGKILL (its objects are lost)`);
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 50 && pidAlive(pid); i += 1) await sleep(100);
    }
  }
  rmSync(p.pid, { force: true });
}

function tail(file) {
  return (readText(file) ?? '').split('\n').slice(-20).join('\n');
}

/** The emulator itself, in this process. */
async function serve(p) {
  const port = Number(readText(p.port));
  const require = createRequire(join(REPO_ROOT, 'packages', 'driver-gcs', 'package.json'));
  let storageModule;
  let registryModule;
  try {
    storageModule = require('firebase-tools/lib/emulator/storage');
    registryModule = require('firebase-tools/lib/emulator/registry');
  } catch (error) {
    die(`firebase-tools cannot be loaded from packages/driver-gcs (run pnpm install): ${error.message}`);
  }
  const emulator = new storageModule.StorageEmulator({ projectId: PROJECT_ID, host: '127.0.0.1', port, auto_download: false, rules: [] });
  // The rules runtime is a Java process: not needed for the JSON API the driver uses, so it is replaced by nothing.
  emulator._rulesRuntime = { start: async () => {}, stop: async () => {} };
  emulator._rulesManager = { start: async () => [], stop: async () => {}, getRuleset: () => undefined };
  // Registration is required: without it the first listing throws "Cannot determine host and port of storage".
  // The import (synchronous) needs it too, and must be done before the port opens: readiness means the objects are back.
  const { EmulatorRegistry } = registryModule;
  if (existsSync(join(p.data, 'buckets.json'))) {
    EmulatorRegistry.set(emulator.getName(), emulator);
    emulator.storageLayer.import(p.data, { initiatedBy: 'start' });
    EmulatorRegistry.clear(emulator.getName());
  }
  await EmulatorRegistry.start(emulator);
  console.log(`serving on 127.0.0.1:${port}`);

  let stopping = false;
  const shutdown = async (why) => {
    if (stopping) return;
    stopping = true;
    console.log(`stopping (${why}): exporting objects to ${p.data}`);
    try {
      const next = `${p.data}.next`;
      rmSync(next, { recursive: true, force: true });
      mkdirSync(next, { recursive: true });
      await emulator.storageLayer.export(next, { initiatedBy: 'stop' });
      rmSync(p.data, { recursive: true, force: true });
      renameSync(next, p.data);
      await emulator.stop();
    } catch (error) {
      console.error(`stopping failed: ${error.stack ?? error}`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  const watched = Number(readText(p.watch));
  if (watched) {
    const timer = setInterval(() => {
      if (!pidAlive(watched)) void shutdown(`process ${watched} is gone`);
    }, 2000);
    timer.unref();
  }
}

const [command, stateArg, ...rest] = process.argv.slice(2);
if (!command || !stateArg) die('usage: gcs-emulator.mjs start|stop|stop-server|start-server|status|serve <state> [...]; see the head of the script');
const p = paths(resolve(stateArg));

switch (command) {
  case 'start': {
    mkdirSync(p.state, { recursive: true });
    if (!existsSync(p.port) || (await portListening(Number(readText(p.port))))) writeFileSync(p.port, `${await freePort()}\n`);
    if (rest[0] === '--watch-pid' && rest[1]) writeFileSync(p.watch, `${rest[1]}\n`);
    else rmSync(p.watch, { force: true });
    await startServer(p);
    process.stdout.write(`${JSON.stringify(writeEndpoints(p, Number(readText(p.port))), null, 2)}\n`);
    break;
  }
  case 'stop':
  case 'stop-server':
  case 'start-server': {
    if (!existsSync(p.port)) die(`no emulator was started in ${p.state}`);
    if (command !== 'stop' && rest[0] !== 'emulator') die(`unknown server '${rest[0] ?? ''}' (the one server is: emulator)`);
    if (command === 'start-server') await startServer(p);
    else await stopServer(p);
    break;
  }
  case 'status': {
    const pid = readText(p.pid) ?? '-';
    const up = pid !== '-' && pidAlive(Number(pid)) && (await ready(Number(readText(p.port))));
    process.stdout.write(`emulator pid=${pid} port=${readText(p.port) ?? '-'} ${up ? 'up' : 'down'}\n`);
    break;
  }
  case 'serve':
    await serve(p);
    break;
  default:
    die(`unknown command '${command}'`);
}
