/**
 * Import this first in a process that runs the engine (`import '@stowage/core/thread-pool'`): it sizes libuv's
 * thread pool before its first use. The default 4 threads are shared by file reads, writes and fsyncs; with a
 * backend that fsyncs every object, reads of the next chunk then queue behind fsyncs and both cores go idle.
 * Measured on 2 cores: a 1 GiB posix backup 1.8-1.9 s with 4 threads, 1.4-1.5 s with 16. An explicit
 * UV_THREADPOOL_SIZE from the environment wins.
 */
export const ENGINE_THREAD_POOL_SIZE = 16;

process.env.UV_THREADPOOL_SIZE ??= String(ENGINE_THREAD_POOL_SIZE);
