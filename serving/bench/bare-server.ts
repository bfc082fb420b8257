import { createServer } from 'node:http';
import { loadBundleDir } from '../src/index';

/**
 * The practical ceiling for the benchmark: node:http, the same bundle, the same preprocessing
 * and output shape, ONNX Runtime on the main thread, and nothing else (no framework, no
 * validation schemas, no auth, metrics, logs or drift).
 * - `POST /predict` `{instances}` (the friendly API's shape) and `POST /v2` `{inputs: [{data,
 *   shape}]}` (a preprocessed OIP v2 tensor);
 * - BARE_BATCH=1: requests parsed in the same event-loop turn share one ONNX Runtime run (the
 *   fair baseline for a micro-batching server); otherwise one run per request.
 */
async function main() {
  const model = await loadBundleDir(process.env.BUNDLE!);
  const dim = model.preprocessor.dim;
  const batching = process.env.BARE_BATCH === '1';
  let queue: Array<{ data: Float32Array; rows: number; done: (out: Float32Array, offset: number) => void }> = [];
  const flush = async () => {
    const jobs = queue;
    queue = [];
    const rows = jobs.reduce((n, j) => n + j.rows, 0);
    const input = new Float32Array(rows * dim);
    let at = 0;
    for (const j of jobs) {
      input.set(j.data, at * dim);
      at += j.rows;
    }
    const out = await model.run(input, rows);
    let offset = 0;
    for (const j of jobs) {
      j.done(out, offset);
      offset += j.rows;
    }
  };
  const run = (data: Float32Array, rows: number): Promise<{ out: Float32Array; offset: number }> => {
    if (!batching) return model.run(data, rows).then((out) => ({ out, offset: 0 }));
    return new Promise((resolve) => {
      if (!queue.length) setImmediate(flush);
      queue.push({ data, rows, done: (out, offset) => resolve({ out, offset }) });
    });
  };
  const width = model.outputWidth;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (req.url === '/v2') {
          const t = body.inputs[0];
          const rows = t.shape[0];
          const { out, offset } = await run(Float32Array.from(t.data), rows);
          const data = Array.from(out.subarray(offset * width, (offset + rows) * width));
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ model_name: model.name, model_version: model.version, outputs: [{ name: 'probabilities', shape: [rows, width], datatype: 'FP32', data }] }));
          return;
        }
        const { instances } = body;
        const enc = model.preprocessor.encode(instances);
        if (enc.errors) {
          res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ error: enc.errors[0] }));
          return;
        }
        const { out, offset } = await run(enc.data, instances.length);
        const predictions = instances.map((_: unknown, n: number) => model.describe(out, offset + n));
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ predictions, model_name: model.name, model_version: model.version }));
      } catch (e) {
        res.writeHead(500).end(String(e));
      }
    });
  });
  server.keepAliveTimeout = 65000;
  server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
void main();
