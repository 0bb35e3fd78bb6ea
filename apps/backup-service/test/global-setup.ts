/**
 * Starts the servers the tests need (PostgreSQL) with the repository's own script, and stops them after.
 * When a server cannot be started: under CI (`CI=true`) the tests that need it fail; otherwise they skip and
 * name the command that starts it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

export const POSTGRES_SCRIPT = resolve(import.meta.dirname, '../../../scripts/servers/postgres.sh');

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string | null;
    postgresProblem: string | null;
  }
}

export default function setup(project: TestProject) {
  if (process.env.STOWAGE_POSTGRES_URL) {
    project.provide('postgresUrl', process.env.STOWAGE_POSTGRES_URL);
    project.provide('postgresProblem', null);
    return;
  }
  const state = mkdtempSync(join(tmpdir(), 'stowage-pg-'));
  const started = spawnSync('bash', [POSTGRES_SCRIPT, 'start', state], { encoding: 'utf8', timeout: 120_000 });
  if (started.status !== 0) {
    project.provide('postgresUrl', null);
    project.provide('postgresProblem', `could not start PostgreSQL with "bash ${POSTGRES_SCRIPT} start <dir>": ${(started.stderr || started.stdout || String(started.error)).trim()}`);
    rmSync(state, { recursive: true, force: true });
    return;
  }
  const url = started.stdout.trim().split('\n').pop()!;
  project.provide('postgresUrl', url);
  project.provide('postgresProblem', null);
  return () => {
    spawnSync('bash', [POSTGRES_SCRIPT, 'stop', state], { encoding: 'utf8', timeout: 60_000 });
    rmSync(state, { recursive: true, force: true });
  };
}
