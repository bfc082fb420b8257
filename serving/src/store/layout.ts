/**
 * The model store layout: the one contract between everything that writes the store (the
 * `npm run model` publisher, the retraining pipeline, the registry-approval Lambda) and
 * everything that reads it (the inference service, the chart's `SERVING_MODEL_SOURCE`).
 * docs/model-bundle.md "Layout in a model store" is its written form.
 *
 * ```
 * <store root>/<model name>/versions/<version>/manifest.json | model.onnx | golden.json | ...
 * <store root>/<model name>/aliases/production.json
 * <store root>/<model name>/aliases/candidate.json
 * ```
 *
 * In S3 the store root is `s3://<team models bucket>/models`. This module imports nothing (it
 * is used by the service image, the CDK app, the launcher and the Lambdas alike).
 */

/** Key prefix of the store root inside the team's models bucket. */
export const MODEL_STORE_PREFIX = 'models';

/** The aliases a model has; each is one JSON object in `aliases/`. */
export const ALIAS_NAMES = ['production', 'candidate'] as const;
export type AliasName = (typeof ALIAS_NAMES)[number];

/** A model name: a DNS label, also the URL name in `/v2/models/{name}`. */
export const MODEL_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A version: unique per training run; a path segment and a metric dimension value. */
export const VERSION_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** The folder of one model in a store: what the service's `SERVING_MODEL_SOURCE` points at. */
export function modelRoot(storeRoot: string, modelName: string): string {
  return `${storeRoot.replace(/\/+$/, '')}/${modelName}`;
}

/** A version's folder, relative to the model root. */
export function versionDir(version: string): string {
  return `versions/${version}`;
}

/** An alias file, relative to the model root. */
export function aliasFile(alias: AliasName): string {
  return `aliases/${alias}.json`;
}
