// The contract and typed errors live in their own package; re-exported so existing importers keep working.
export * from '@stowage/driver-contract';
export * from './engine/blocks.js';
export * from './engine/compression.js';
export * from './engine/format.js';
export * from './engine/volume-io.js';
export * from './engine/sparse.js';
export * from './engine/digest-table.js';
export * from './engine/task-window.js';
export * from './engine/buffers.js';
export * from './engine/backup-engine.js';
export * from './lifecycle/index.js';
export * from './engine/object-crypto.js';
