import { getEventListeners } from 'node:events';
import { processRuntime } from '../../training/launcher/cli/runtime';

describe('processRuntime', () => {
  test('sleep ends early when its signal aborts (Ctrl-C must not wait out a poll)', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const sleeping = processRuntime().sleep(60_000, controller.signal);
    controller.abort();
    await sleeping;
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test('many polls on one signal leave no listeners behind', async () => {
    const controller = new AbortController();
    const runtime = processRuntime();
    for (let i = 0; i < 30; i++) await runtime.sleep(0, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('confirm answers no when there is no terminal to ask', async () => {
    // jest's stdin is not a TTY, like CI
    await expect(processRuntime().confirm('Stop?')).resolves.toBe(false);
  });
});
