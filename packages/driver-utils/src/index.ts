/**
 * `@stowage/driver-utils`: what storage drivers share, written once. Depends only on `@stowage/driver-contract`.
 */
export * from './abort.js';
export * from './counted-body.js';
export * from './error-details.js';
export * from './network-errors.js';
export * from './retry.js';
export * from './setup-errors.js';
export * from './setup-probe.js';
