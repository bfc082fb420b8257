import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import {
  rotate,
  rotatedValue,
  type RotationEvent,
} from '../../constructs/serving/api-key-rotation-handler';
import { REGION, startMoto, type Moto } from '../training/aws-fixtures';

const FIRST_KEY = 'first-key-0123456789abcdefghijklmnopqrstuvwxyzABCD';

/** The four steps, in the order Secrets Manager calls them for one token. */
async function rotation(client: SecretsManagerClient, SecretId: string, token: string) {
  for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const)
    await rotate(client, { Step, SecretId, ClientRequestToken: token });
}

async function stageValue(client: SecretsManagerClient, SecretId: string, VersionStage: string) {
  return (await client.send(new GetSecretValueCommand({ SecretId, VersionStage }))).SecretString;
}

describe('API key rotation handler, against moto Secrets Manager', () => {
  let moto: Moto;
  let client: SecretsManagerClient;
  let n = 0;

  /** A secret with rotation enabled and FIRST_KEY current, as the stack leaves it. */
  async function secret(value = FIRST_KEY): Promise<string> {
    const name = `api-keys-${++n}`;
    await client.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    // Turns rotation on without a function (moto copies the value into a new current version).
    await client.send(
      new RotateSecretCommand({
        SecretId: name,
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      }),
    );
    return name;
  }

  beforeAll(async () => {
    moto = await startMoto();
    client = new SecretsManagerClient({
      region: REGION,
      endpoint: moto.url,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
  });
  afterAll(async () => {
    client.destroy();
    await moto.stop();
  });

  test('a rotation puts a new key first and keeps the previous one; the next drops it', async () => {
    // GIVEN the stack's secret: one generated key
    const id = await secret();

    // WHEN it is rotated twice
    await rotation(client, id, '11111111-1111-4111-8111-111111111111');
    const once = (await stageValue(client, id, 'AWSCURRENT'))!.split('\n').filter(Boolean);
    await rotation(client, id, '22222222-2222-4222-8222-222222222222');
    const twice = (await stageValue(client, id, 'AWSCURRENT'))!.split('\n').filter(Boolean);

    // THEN the first rotation overlaps the old key, the second drops it
    expect(once).toHaveLength(2);
    expect(once[1]).toBe(FIRST_KEY);
    expect(once[0]).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(twice).toEqual([expect.stringMatching(/^[A-Za-z0-9]{48}$/), once[0]]);
    expect(twice[0]).not.toBe(once[0]);
    expect(await stageValue(client, id, 'AWSPREVIOUS')).toBe(once.join('\n') + '\n');
    const stages = (await client.send(new DescribeSecretCommand({ SecretId: id })))
      .VersionIdsToStages!;
    // AWSPENDING may stay on the current version: the end state the protocol allows.
    expect(stages['22222222-2222-4222-8222-222222222222']).toContain('AWSCURRENT');
    expect(Object.values(stages).filter((s) => s.includes('AWSCURRENT'))).toHaveLength(1);
  });

  test('a retried createSecret keeps the pending value it made; a retried finishSecret is a no-op', async () => {
    const id = await secret();
    const token = '33333333-3333-4333-8333-333333333333';
    const event = (Step: RotationEvent['Step']): RotationEvent => ({
      Step,
      SecretId: id,
      ClientRequestToken: token,
    });
    await rotate(client, event('createSecret'));
    const pending = await stageValue(client, id, 'AWSPENDING');
    await rotate(client, event('createSecret'));
    expect(await stageValue(client, id, 'AWSPENDING')).toBe(pending);
    await rotate(client, event('testSecret'));
    await rotate(client, event('finishSecret'));
    await rotate(client, event('finishSecret'));
    expect(await stageValue(client, id, 'AWSCURRENT')).toBe(pending);
  });

  test('fails testSecret on a pending value the service would refuse, or one that drops the current key', async () => {
    const id = await secret();
    const put = (token: string, value: string) =>
      client.send(
        new PutSecretValueCommand({
          SecretId: id,
          ClientRequestToken: token,
          SecretString: value,
          VersionStages: ['AWSPENDING'],
        }),
      );
    const test = (token: string) =>
      rotate(client, { Step: 'testSecret', SecretId: id, ClientRequestToken: token });

    await put('44444444-4444-4444-8444-444444444444', `short\n${FIRST_KEY}\n`);
    await expect(test('44444444-4444-4444-8444-444444444444')).rejects.toThrow(
      /is not a valid keys file: API key entry 1: keys must be at least 16 characters/,
    );
    await put('55555555-5555-4555-8555-555555555555', 'a-new-key-that-is-long-enough\n');
    await expect(test('55555555-5555-4555-8555-555555555555')).rejects.toThrow(
      /drops the current key/,
    );
    await put('66666666-6666-4666-8666-666666666666', `${FIRST_KEY}\n`);
    await expect(test('66666666-6666-4666-8666-666666666666')).rejects.toThrow(
      /does not start with a new key/,
    );
    // Nothing of that became current.
    expect(await stageValue(client, id, 'AWSCURRENT')).toBe(FIRST_KEY);
  });

  test('fails on a secret without rotation enabled, and on a token that is not pending', async () => {
    const plain = `api-keys-plain-${++n}`;
    await client.send(new CreateSecretCommand({ Name: plain, SecretString: FIRST_KEY }));
    await expect(
      rotate(client, {
        Step: 'createSecret',
        SecretId: plain,
        ClientRequestToken: '77777777-7777-4777-8777-777777777777',
      }),
    ).rejects.toThrow(/does not have rotation enabled/);
    const id = await secret();
    await expect(
      rotate(client, {
        Step: 'testSecret',
        SecretId: id,
        ClientRequestToken: '88888888-8888-4888-8888-888888888888',
      }),
    ).rejects.toThrow(/has no version 88888888/);
  });
});

describe('API key rotation handler, at the SDK boundary', () => {
  // Created here, not at collection: a mock of the class would also catch the moto suite's client.
  let sm: AwsClientStub<SecretsManagerClient>;
  beforeAll(() => {
    sm = mockClient(SecretsManagerClient);
  });
  afterEach(() => sm.reset());
  afterAll(() => sm.restore());

  test('createSecret on the value-less AWSPENDING stub Secrets Manager makes (moto cannot): exact requests', async () => {
    // GIVEN the stub of a started rotation, which has no value yet
    const token = '99999999-9999-4999-8999-999999999999';
    sm.on(DescribeSecretCommand).resolves({
      RotationEnabled: true,
      VersionIdsToStages: { v1: ['AWSCURRENT'], [token]: ['AWSPENDING'] },
    });
    sm.on(GetSecretValueCommand, { SecretId: 'keys', VersionId: token, VersionStage: 'AWSPENDING' })
      .rejects(new ResourceNotFoundException({ message: 'no value', $metadata: {} }))
      .on(GetSecretValueCommand, { SecretId: 'keys', VersionStage: 'AWSCURRENT' })
      .resolves({ SecretString: `k2-0123456789abcdef\nk1-0123456789abcdef\n` });
    sm.on(GetRandomPasswordCommand).resolves({ RandomPassword: 'N'.repeat(48) });

    // WHEN
    await rotate(new SecretsManagerClient({ region: REGION }), {
      Step: 'createSecret',
      SecretId: 'keys',
      ClientRequestToken: token,
    });

    // THEN a 48-character key without punctuation, and the pending value keeps only k2
    expect(sm.commandCalls(GetRandomPasswordCommand)[0]!.args[0].input).toEqual({
      PasswordLength: 48,
      ExcludePunctuation: true,
      IncludeSpace: false,
    });
    const puts = sm.commandCalls(PutSecretValueCommand);
    expect(puts).toHaveLength(1);
    expect(puts[0]!.args[0].input).toEqual({
      SecretId: 'keys',
      ClientRequestToken: token,
      SecretString: `${'N'.repeat(48)}\nk2-0123456789abcdef\n`,
      VersionStages: ['AWSPENDING'],
    });
  });

  test('rotatedValue drops comments and blank lines and keeps only the newest previous key', () => {
    expect(rotatedValue('# keys\n\nold-1-0123456789abcdef\nold-2-0123456789abcdef\n', 'NEW')).toBe(
      'NEW\nold-1-0123456789abcdef\n',
    );
  });
});
