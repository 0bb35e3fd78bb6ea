/**
 * `@stowage/driver-contract`: the versioned storage-driver contract (`stowage.driver/v1`), its typed errors and the
 * options-schema interface. No runtime dependencies, so a driver built on it installs without the engine.
 */
export * from './errors.js';
export * from './driver.js';
export * from './options-schema.js';
