import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';

/** A fresh database URL per call: a temp SQLite file, or a new database in the test PostgreSQL cluster. */
export type DatabaseFactory = (dir: string) => Promise<string>;

export const sqliteDatabase: DatabaseFactory = async (dir) => `sqlite:${join(dir, 'test.sqlite')}`;

export function postgresDatabase(): { factory: DatabaseFactory | undefined; skipReason: string | undefined } {
  const url = inject('postgresUrl');
  if (url) {
    return {
      factory: async () => {
        const name = `stowage_test_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query(`CREATE DATABASE ${name}`);
        await client.end();
        return url.replace(/\/[^/]*$/, `/${name}`);
      },
      skipReason: undefined,
    };
  }
  const problem = inject('postgresProblem') ?? 'PostgreSQL unavailable';
  if (process.env.CI === 'true') throw new Error(`PostgreSQL is required under CI: ${problem}`);
  return { factory: undefined, skipReason: `${problem}. Start one with: bash scripts/servers/postgres.sh start /tmp/stowage-pg, then STOWAGE_POSTGRES_URL=<printed url>` };
}
