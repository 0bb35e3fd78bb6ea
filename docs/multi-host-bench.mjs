// Enqueue -> start-of-work latency on PostgreSQL: Stowage's own claim (the row queued, NOTIFY, UPDATE ... FOR UPDATE SKIP LOCKED)
// against pg-boss (LISTEN/NOTIFY on, and polling only). Not part of the build: run it in a scratch folder with
//   npm install pg-boss@12.38.0 pg@8.23.1 && node multi-host-bench.mjs postgres://postgres@127.0.0.1:PORT/DB
import pg from 'pg';
import { PgBoss } from 'pg-boss';
const url = process.argv[2];
const N = 100, BURST = 200;
const stats = (xs) => { const s = [...xs].sort((a, b) => a - b); return { n: s.length, median: +s[Math.floor(s.length / 2)].toFixed(2), p95: +s[Math.floor(s.length * 0.95)].toFixed(2), worst: +s[s.length - 1].toFixed(2) }; };

async function own() {
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  await pool.query('DROP TABLE IF EXISTS q_backups; CREATE TABLE q_backups (id text primary key, host text, worker text, status text, created_at text, deleted int default 0); CREATE INDEX ON q_backups (host, worker, status)');
  const listener = new pg.Client({ connectionString: url }); await listener.connect(); await listener.query('LISTEN bench_work');
  const waiters = new Map();
  const claim = async () => {
    const { rows } = await pool.query(`UPDATE q_backups SET worker = 'w1' WHERE id IN (SELECT id FROM q_backups WHERE deleted = 0 AND worker IS NULL AND host = ANY($1) AND status = ANY($2) ORDER BY created_at LIMIT 25 FOR UPDATE SKIP LOCKED) AND worker IS NULL RETURNING id`, [['h1@b'], ['creating', 'deleting', 'restoring']]);
    for (const r of rows) { waiters.get(r.id)?.(); waiters.delete(r.id); }
  };
  let claiming = null, again = false;
  const wake = () => { if (claiming) { again = true; return; } claiming = claim().finally(() => { claiming = null; if (again) { again = false; wake(); } }); };
  listener.on('notification', wake);
  const enqueue = async (id) => { await pool.query(`INSERT INTO q_backups (id, host, status, created_at) VALUES ($1, 'h1@b', 'creating', now()::text)`, [id]); await pool.query(`SELECT pg_notify('bench_work', 'h1@b')`); };
  const lat = [];
  for (let i = 0; i < N; i++) { const id = `s${i}`; const t = performance.now(); const done = new Promise((r) => waiters.set(id, r)); await enqueue(id); await done; lat.push(performance.now() - t); }
  const t0 = performance.now(); const all = [];
  for (let i = 0; i < BURST; i++) { const id = `b${i}`; all.push(new Promise((r) => waiters.set(id, r))); }
  await Promise.all(Array.from({ length: BURST }, (_, i) => enqueue(`b${i}`))); await Promise.all(all);
  const burst = performance.now() - t0;
  await listener.end(); await pool.end();
  return { latency: stats(lat), burstMs: Math.round(burst) };
}

async function boss(notify) {
  const b = new PgBoss({ connectionString: url, useListenNotify: notify, schema: notify ? 'pgboss_n' : 'pgboss_p' });
  b.on('error', () => undefined); b.on('warning', () => undefined);
  await b.start();
  await b.createQueue('q', { notify });
  const waiters = new Map();
  await b.work('q', { pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 5, batchSize: 25 }, async (jobs) => { for (const j of jobs) { waiters.get(j.data.id)?.(); waiters.delete(j.data.id); } });
  const lat = [];
  for (let i = 0; i < N; i++) { const id = `s${i}`; const t = performance.now(); const done = new Promise((r) => waiters.set(id, r)); await b.send('q', { id }); await done; lat.push(performance.now() - t); }
  const t0 = performance.now(); const all = [];
  for (let i = 0; i < BURST; i++) { const id = `b${i}`; all.push(new Promise((r) => waiters.set(id, r))); }
  await Promise.all(Array.from({ length: BURST }, (_, i) => b.send('q', { id: `b${i}` }))); await Promise.all(all);
  const burst = performance.now() - t0;
  await b.stop({ graceful: false, wait: true, timeout: 2000 }).catch(() => undefined);
  return { latency: stats(lat), burstMs: Math.round(burst) };
}

console.log(JSON.stringify({ own: await own(), pgBossNotify: await boss(true), pgBossPolling: await boss(false) }, null, 1));
process.exit(0);
