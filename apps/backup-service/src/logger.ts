import { pino, type Logger } from 'pino';

/** JSON lines on stderr, so stdout stays free for `stowage check` output and log-sink notifications. */
export function createLogger(): Logger {
  return pino({ level: process.env.STOWAGE_LOG_LEVEL ?? 'info', base: { service: 'stowage-backup' } }, pino.destination(2));
}
