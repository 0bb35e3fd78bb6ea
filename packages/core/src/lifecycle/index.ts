// The manager lifecycle: driver initialisation with timeout and periodic retry, heartbeats, the operation
// bound, and the notification contract.
export * from './notifier.js';
export * from './init-events.js';
export * from './timeout.js';
export * from './operation-limiter.js';
export * from './backend-lifecycle.js';
