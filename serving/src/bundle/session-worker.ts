import { parentPort, workerData } from 'node:worker_threads';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { WorkerData, WorkerReply, WorkerRequest } from './session';

/**
 * One inference worker thread: its own ONNX Runtime session over the model bytes it was given,
 * one run at a time, inputs and outputs as transferred Float32Array buffers (no JSON).
 */
const data = workerData as WorkerData;
const port = parentPort!;
const reply = (m: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

// ORT refuses a view of a SharedArrayBuffer: it gets a private copy (it copies it again itself).
InferenceSession.create(new Uint8Array(data.model), data.options).then(
  (session) => {
    reply({ type: 'ready', inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
    port.on('message', (m: WorkerRequest) => {
      if (m.type === 'release') {
        session.release().finally(() => reply({ type: 'released' }));
        return;
      }
      const started = performance.now();
      session
        .run({ [data.inputName]: new Tensor('float32', m.input, [m.rows, data.dim]) }, [data.outputName])
        .then(
          (result) => {
            const out = result[data.outputName]!.data as Float32Array;
            reply({ type: 'result', output: out, ms: performance.now() - started }, [out.buffer as ArrayBuffer]);
          },
          (e: unknown) => reply({ type: 'error', message: (e as Error).message }),
        );
    });
  },
  (e: unknown) => reply({ type: 'failed', message: (e as Error).message }),
);
