/** Worker thread entry: runs chunk-codec jobs for the engine's `CodecPool`; buffers travel back and forth. */
import { parentPort } from 'node:worker_threads';
import { transferables, runCodecRequest, type CodecRequest } from './codec-pool.js';

const port = parentPort;
if (port === null) throw new Error('chunk-worker.js must run as a worker thread');

port.on('message', (request: CodecRequest) => {
  const response = runCodecRequest(request);
  port.postMessage(response, transferables(response.kind === 'error' ? [] : response.buffers));
});
