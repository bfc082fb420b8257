import { createServer } from 'node:http';
import { loadBundleDir } from '../src/index';

/**
 * The practical ceiling for the benchmark: node:http, the same bundle, the same preprocessing
 * and output shape, one ONNX Runtime run per request, and nothing else (no framework, no
 * validation schemas, no auth, metrics, logs, batching or drift).
 */
async function main() {
  const model = await loadBundleDir(process.env.BUNDLE!);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const { instances } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const enc = model.preprocessor.encode(instances);
        if (enc.errors) {
          res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ error: enc.errors[0] }));
          return;
        }
        const out = await model.run(enc.data, instances.length);
        const predictions = instances.map((_: unknown, n: number) => model.describe(out, n));
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
