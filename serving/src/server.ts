import { buildApp } from './app';
import { ConfigError, loadConfig } from './config';

/**
 * The process entry point: the only place that reads process.env, listens, handles signals
 * and exits. SIGTERM/SIGINT: readiness fails at once, requests keep being served for
 * SERVING_SHUTDOWN_DELAY_MS (time for endpoints to drop the pod), then the listener closes,
 * new requests get 503, in-flight ones finish, the model is released and the process exits 0.
 */
async function main(): Promise<void> {
  const startedAt = performance.now();
  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`serving: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  let app;
  try {
    app = await buildApp({ config });
  } catch (e) {
    process.stderr.write(`serving: cannot start: ${(e as Error).message}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal, delay_ms: config.shutdownDelayMs }, 'shutting down: readiness is now false');
    app.startDraining();
    const hard = setTimeout(() => {
      app.log.error('shutdown timed out; exiting with in-flight requests');
      process.exit(1);
    }, config.shutdownDelayMs + config.shutdownTimeoutMs);
    hard.unref();
    setTimeout(() => {
      app
        .close()
        .then(() => {
          app.log.info('shutdown complete');
          process.exitCode = 0;
        })
        .catch((err) => {
          app.log.error({ err }, 'error during shutdown');
          process.exitCode = 1;
        })
        .finally(() => clearTimeout(hard));
    }, config.shutdownDelayMs);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
  const prod = app.registry.productionEntry?.model;
  const started = { cold_start_ms: Math.round(performance.now() - startedAt), rss_mb: Math.round(process.memoryUsage().rss / 1048576) };
  if (prod) app.log.info({ model: prod.name, version: prod.version, ...started }, 'ready');
  // Live, not ready: the registry said why (once) and keeps polling for a model.
  else app.log.info({ ...started, reason: app.registry.notReady?.reason }, 'listening; not ready until a production model loads');
}

main().catch((e) => {
  process.stderr.write(`serving: fatal: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
