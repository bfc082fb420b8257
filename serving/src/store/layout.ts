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

/**
 * The content of an alias file. `production.json` names the version that takes the traffic;
 * `candidate.json` names a canary and its share. `updated_*` and `reason` say who moved the
 * alias, when and why (S3 versioning of the object keeps the history).
 */
export interface AliasFile {
  version: string;
  /** candidate only: share of requests, 0..100. */
  traffic_percent?: number;
  /** ISO 8601 UTC time of the write. */
  updated_at?: string;
  /** Who wrote it: the caller's ARN, or a user name. */
  updated_by?: string;
  reason?: string;
}

/** Parses and validates an alias file; throws an Error naming the file and the field. */
export function parseAliasFile(alias: AliasName, text: string): AliasFile {
  const where = aliasFile(alias);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${where}: not valid JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error(`${where}: must be a JSON object`);
  const a = raw as Record<string, unknown>;
  if (typeof a.version !== 'string' || !VERSION_PATTERN.test(a.version))
    throw new Error(`${where}: "version" must match ${VERSION_PATTERN.source}`);
  const out: AliasFile = { version: a.version };
  if (a.traffic_percent !== undefined) {
    if (typeof a.traffic_percent !== 'number' || !(a.traffic_percent >= 0 && a.traffic_percent <= 100))
      throw new Error(`${where}: "traffic_percent" must be a number in [0, 100]`);
    out.traffic_percent = a.traffic_percent;
  }
  for (const field of ['updated_at', 'updated_by', 'reason'] as const) {
    const value = a[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new Error(`${where}: "${field}" must be a string`);
    out[field] = value;
  }
  return out;
}
