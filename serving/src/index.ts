/**
 * Public entry points, for the trainer's tests and the end-to-end test:
 * - loadBundleDir(dir): verify a bundle folder exactly as the service does (sha256, manifest,
 *   ONNX load, golden self-test) and get a model that predicts raw instances;
 * - buildApp / loadConfig: the service itself, without listening.
 */
import { LoadedModel, type Prediction } from './bundle/model';
import { LocalSource, readBundle } from './store/store';

export { buildApp, type AppOptions } from './app';
export { loadConfig, ConfigError, type Config } from './config';
export { LoadedModel, type Prediction, type BundleFiles } from './bundle/model';
export { parseManifest, parseGolden, BundleError, type Manifest } from './bundle/manifest';
export { Preprocessor, type FieldError } from './bundle/preprocess';
export { psi, bucketOf } from './drift';

/** Loads and self-tests the bundle in `dir`; throws BundleError saying what is wrong. */
export async function loadBundleDir(dir: string): Promise<LoadedModel> {
  return LoadedModel.load(await readBundle(new LocalSource(dir), ''));
}

/** Predicts raw named-feature instances with a loaded bundle; throws on invalid instances. */
export async function predictInstances(model: LoadedModel, instances: Array<Record<string, unknown>>): Promise<Prediction[]> {
  const encoded = model.preprocessor.encode(instances);
  if (encoded.errors) {
    const e = encoded.errors[0]!;
    throw new Error(`instances[${e.instance}]${e.field ? `.${e.field}` : ''}: ${e.message}`);
  }
  const out = await model.run(encoded.data, instances.length);
  return instances.map((_, n) => model.describe(out, n));
}
