import { BundleError, type Manifest } from '../../../serving/src/bundle/manifest';
import { LoadedModel } from '../../../serving/src/bundle/model';
import { LocalSource, readBundle } from '../../../serving/src/store/store';
import { BundleRejectedError } from '../cli/errors';

/**
 * Verifies a bundle folder with the inference service's own code (serving/src/bundle): the
 * manifest schema, the model's sha256, and the golden vectors through ONNX Runtime. This is
 * the only lifecycle module that loads ONNX Runtime (the approval Lambda never imports it).
 */
export async function verifyBundle(dir: string): Promise<Manifest> {
  try {
    const model = await LoadedModel.load(await readBundle(new LocalSource(dir), ''));
    await model.release();
    return model.manifest;
  } catch (err) {
    if (err instanceof BundleError)
      throw new BundleRejectedError(`bundle refused (${err.reason}): ${err.message}`);
    throw err;
  }
}
