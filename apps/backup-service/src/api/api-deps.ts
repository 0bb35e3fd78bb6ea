import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/load-config.js';
import type { ServiceMetrics } from '../observability/metrics.js';
import type { OperationDeps } from '../operations/context.js';
import type { Authenticator } from './auth/authenticator.js';

/** What the routes need: they parse, authorize, call one operation and render its result. */
export interface ApiDependencies {
  readonly config: ServiceConfig;
  readonly logger: Logger;
  readonly authenticator: Authenticator;
  readonly operations: OperationDeps;
  /** Request counts and durations; `/metrics` on this listener unless `metrics_listen` is set. */
  readonly metrics?: ServiceMetrics | undefined;
}
