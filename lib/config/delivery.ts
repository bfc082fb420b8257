import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors';
import type { ContextReader } from './loader';
import { parseConfigFile } from './loader';

/** Where the optional delivery configuration lives; absent = no DeliveryStack. */
export const DEFAULT_DELIVERY_FILE = path.join('config', 'delivery.yaml');

const name = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+$/, { error: 'letters, digits, ".", "_" or "-" only' });

export const deliverySchema = z.strictObject({
  github: z.strictObject({
    /** `owner/name` of the repository whose workflows may deploy. */
    repository: z.string().regex(/^[A-Za-z0-9-]+\/[A-Za-z0-9_.-]+$/, {
      error: 'must be owner/name, like "acme/ml-platform"',
    }),
    /** Branches whose workflow runs (jobs without an environment) may assume the deploy role. */
    branches: z.array(name).default(['main']),
    /** GitHub environments whose jobs may assume it (the deploy job runs in one per stage). */
    environments: z.array(name).default(['dev', 'staging', 'prod']),
  }),
  /** Qualifier of the CDK bootstrap stack (`cdk bootstrap --qualifier`). */
  cdkQualifier: z
    .string()
    .regex(/^[a-z0-9]{1,10}$/, { error: 'must be 1 to 10 lower-case letters or digits' })
    .default('hnb659fds'),
});

export type DeliveryConfig = z.infer<typeof deliverySchema>;

/**
 * Reads the delivery file named by the `deliveryFile` context key (default
 * config/delivery.yaml); `undefined` when there is none, so the app has no DeliveryStack.
 */
export function loadDeliveryConfig(context: ContextReader): DeliveryConfig | undefined {
  const given = context.tryGetContext('deliveryFile');
  const file =
    given === undefined || given === null || given === '' ? DEFAULT_DELIVERY_FILE : String(given);
  if (!fs.existsSync(file)) {
    if (given) throw new ConfigError([{ file, path: '', message: 'delivery file not found' }]);
    return undefined;
  }
  const parsed = parseConfigFile(file, fs.readFileSync(file, 'utf8'), deliverySchema);
  if ('problems' in parsed) throw new ConfigError(parsed.problems);
  return parsed.value;
}
