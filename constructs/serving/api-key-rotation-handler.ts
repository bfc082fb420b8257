import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
// The service's own parser: a value this Lambda accepts is a value the service accepts.
import { keyFileEntries, parseKeys } from '../../serving/src/auth';

/** The event Secrets Manager sends to a rotation function, once per step. */
export interface RotationEvent {
  readonly Step: 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
  readonly SecretId: string;
  readonly ClientRequestToken: string;
}

export class RotationError extends Error {
  override readonly name = 'RotationError';
}

/**
 * Keys kept behind the new one: the key that was newest before this rotation stays valid
 * until the next rotation, so clients have one whole rotation interval to move to the new
 * key; anything older is dropped.
 */
export const PREVIOUS_KEYS_KEPT = 1;

/** A new key, made like the stack's first one: 48 letters and digits. */
async function newApiKey(client: SecretsManagerClient): Promise<string> {
  const { RandomPassword } = await client.send(
    new GetRandomPasswordCommand({ PasswordLength: 48, ExcludePunctuation: true, IncludeSpace: false }),
  );
  if (!RandomPassword) throw new RotationError('GetRandomPassword returned no password');
  return RandomPassword;
}

/** The next value of the secret: the new key first, then the newest of the current ones. */
export function rotatedValue(current: string, newKey: string): string {
  return [newKey, ...keyFileEntries(current).slice(0, PREVIOUS_KEYS_KEPT)].join('\n') + '\n';
}

/**
 * The Secrets Manager rotation protocol for the API-keys secret (one key per line, the
 * format the inference service reads):
 *
 * - createSecret: puts AWSPENDING = a new key + the newest current key (once per token);
 * - setSecret: nothing to set; the service reads the secret itself (the CSI mount);
 * - testSecret: AWSPENDING parses as the service parses it, starts with a key that is not
 *   in AWSCURRENT, and still holds AWSCURRENT's newest key (the overlap window);
 * - finishSecret: moves AWSCURRENT to the token's version (AWSPREVIOUS follows).
 */
export async function rotate(client: SecretsManagerClient, event: RotationEvent): Promise<void> {
  const { SecretId, ClientRequestToken: token, Step } = event;
  const described = await client.send(new DescribeSecretCommand({ SecretId }));
  if (!described.RotationEnabled) throw new RotationError(`secret ${SecretId} does not have rotation enabled`);
  // Secrets Manager stages the token AWSPENDING before the first step; createSecret's
  // PutSecretValue creates that version if it does not exist yet.
  const stages = described.VersionIdsToStages?.[token];
  if (!stages && Step !== 'createSecret') throw new RotationError(`secret ${SecretId} has no version ${token}`);
  if (stages?.includes('AWSCURRENT')) return; // this version is already current: nothing to do
  if (stages && !stages.includes('AWSPENDING'))
    throw new RotationError(`version ${token} of secret ${SecretId} is not AWSPENDING`);

  const current = async () =>
    (await client.send(new GetSecretValueCommand({ SecretId, VersionStage: 'AWSCURRENT' }))).SecretString ?? '';
  const pending = async () =>
    (await client.send(new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' }))).SecretString ?? '';

  switch (Step) {
    case 'createSecret': {
      try {
        await pending();
        return; // a retried step: the pending value exists already
      } catch (err) {
        if (!(err instanceof ResourceNotFoundException)) throw err;
      }
      await client.send(
        new PutSecretValueCommand({
          SecretId,
          ClientRequestToken: token,
          SecretString: rotatedValue(await current(), await newApiKey(client)),
          VersionStages: ['AWSPENDING'],
        }),
      );
      return;
    }
    case 'setSecret':
      return;
    case 'testSecret': {
      const next = keyFileEntries(await pending());
      const now = keyFileEntries(await current());
      try {
        parseKeys(next);
      } catch (err) {
        throw new RotationError(`AWSPENDING of ${SecretId} is not a valid keys file: ${(err as Error).message}`);
      }
      if (next.length === 0 || now.includes(next[0]!))
        throw new RotationError(`AWSPENDING of ${SecretId} does not start with a new key`);
      if (now.length > 0 && !next.includes(now[0]!))
        throw new RotationError(`AWSPENDING of ${SecretId} drops the current key: clients would lose access at once`);
      return;
    }
    case 'finishSecret': {
      const currentVersion = Object.entries(described.VersionIdsToStages ?? {}).find(([, s]) =>
        s.includes('AWSCURRENT'),
      )?.[0];
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          RemoveFromVersionId: currentVersion,
        }),
      );
      return;
    }
    default:
      throw new RotationError(`unknown rotation step ${String(Step)}`);
  }
}

let client: SecretsManagerClient | undefined;

export async function handler(event: RotationEvent): Promise<void> {
  client ??= new SecretsManagerClient({});
  await rotate(client, event);
}
