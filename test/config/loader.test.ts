import * as path from 'node:path';
import { stringify } from 'yaml';
import {
  ConfigError,
  derivePlatforms,
  loadAppConfig,
  loadTeamConfigs,
  parseTeamFile,
} from '../../lib/config';
import { teamConfig, teamFile, writeTeamsDir } from '../helpers/teams';

function problemsOf(text: string): string[] {
  const result = parseTeamFile('teams/bad.yaml', text);
  if (!('problems' in result)) throw new Error('expected the file to be rejected');
  return result.problems.map((p) => `${p.line ?? '-'} ${p.path}: ${p.message}`);
}

const omit = (key: string) => {
  const f = teamFile();
  delete f[key];
  return stringify(f);
};

describe('team file validation', () => {
  // Each row: a bad file, and the exact problem (line, field path, message) it must produce.
  const cases: [string, string, string][] = [
    ['missing team', omit('team'), '- team: is required'],
    ['missing account', omit('account'), '- account: is required'],
    [
      'account as a number',
      stringify(teamFile({ account: 222222222222 })),
      '3 account: must be a 12-digit AWS account id in quotes, like "123456789012"',
    ],
    [
      'account too short',
      stringify(teamFile({ account: '12345' })),
      '3 account: must be a 12-digit AWS account id, like "123456789012"',
    ],
    [
      'bad region',
      stringify(teamFile({ region: 'mars-north-1x' })),
      '4 region: must be an AWS region like "eu-west-1"',
    ],
    [
      'empty AZ list',
      stringify(teamFile({ availabilityZones: [] })),
      '5 availabilityZones: must list at least 2 availability zones (EKS and HA need two)',
    ],
    [
      'AZ outside the region',
      stringify(teamFile({ availabilityZones: ['us-east-1a', 'eu-west-1b'] })),
      '7 availabilityZones.1: "eu-west-1b" is not in region us-east-1',
    ],
    [
      'duplicate AZ',
      stringify(teamFile({ availabilityZones: ['us-east-1a', 'us-east-1a'] })),
      '6 availabilityZones: lists an availability zone twice',
    ],
    [
      'bad stage',
      stringify(teamFile({ stage: 'production' })),
      '2 stage: must be one of dev, staging, prod',
    ],
    [
      'bad team name',
      stringify(teamFile({ team: 'Fraud_Team' })),
      '1 team: must be 2-20 characters: lowercase letters, digits and dashes, starting with a letter',
    ],
    [
      'unknown top-level key',
      stringify(teamFile({ dataLak: {} })),
      '16 dataLak: is not a known field (check the spelling; unknown fields are errors)',
    ],
    [
      'unknown nested key',
      stringify(teamFile({ dataLake: { lifecycle: { noncurrentDays: 3 } } })),
      '18 dataLake.lifecycle.noncurrentDays: is not a known field (check the spelling; unknown fields are errors)',
    ],
    [
      'wrong type nested',
      stringify(teamFile({ dataLake: { lifecycle: { noncurrentVersionDays: 'ten' } } })),
      '18 dataLake.lifecycle.noncurrentVersionDays: expected number, received string',
    ],
    [
      'bad email',
      stringify(teamFile({ alarmEmails: ['not-an-email'] })),
      '12 alarmEmails.0: must be an email address',
    ],
    [
      'throwaway outside dev',
      stringify(teamFile({ stage: 'prod', dataLake: { throwaway: true } })),
      '17 dataLake.throwaway: is only allowed for stage dev (this file is stage prod): data is never thrown away elsewhere',
    ],
    [
      'throwaway with object lock',
      stringify(
        teamFile({
          dataLake: { throwaway: true, rawObjectLock: { mode: 'governance', days: 30 } },
        }),
      ),
      '19 dataLake.rawObjectLock: cannot be combined with throwaway: locked objects cannot be deleted',
    ],
    [
      'bad object lock mode',
      stringify(teamFile({ dataLake: { rawObjectLock: { mode: 'strict', days: 30 } } })),
      '18 dataLake.rawObjectLock.mode: expected one of "governance"|"compliance"',
    ],
    [
      'glacier before tiering',
      stringify(teamFile({ dataLake: { lifecycle: { rawGlacierDays: 10 } } })),
      '18 dataLake.lifecycle.rawGlacierDays: must be greater than intelligentTieringDays (30)',
    ],
    [
      'min replicas above max',
      stringify(teamFile({ serving: { minReplicas: 5, maxReplicas: 2 } })),
      '15 serving.maxReplicas: must be >= serving.minReplicas (5)',
    ],
    [
      'bad tracking server size',
      stringify(teamFile({ training: { experimentTracking: { size: 'XL' } } })),
      '18 training.experimentTracking.size: expected one of "Small"|"Medium"|"Large"',
    ],
    [
      'bad CIDR',
      stringify(teamFile({ network: { cidr: '10.0.0.0/8' } })),
      '17 network.cidr: must be an IPv4 CIDR from /16 to /24',
    ],
    [
      'unknown objective metric',
      stringify(teamFile({ training: { objective: { metric: 'auc', target: 0.8 } } })),
      '18 training.objective.metric: unknown metric "auc": use one of roc_auc, f1, precision_at_recall, recall_at_precision, accuracy, mae, rmse',
    ],
    [
      'objective parameter out of range',
      stringify(
        teamFile({
          training: { objective: { metric: 'precision_at_recall', parameter: 1.5, target: 0.8 } },
        }),
      ),
      '19 training.objective.parameter: must be a recall in (0, 1], got 1.5',
    ],
    [
      'objective without its parameter',
      stringify(
        teamFile({ training: { objective: { metric: 'recall_at_precision', target: 0.5 } } }),
      ),
      '- training.objective.parameter: recall_at_precision needs a parameter: the minimum precision, in (0, 1]',
    ],
    [
      'objective target out of range',
      stringify(teamFile({ training: { objective: { metric: 'roc_auc', target: 1.2 } } })),
      '19 training.objective.target: must be in [0, 1] for roc_auc, got 1.2',
    ],
    [
      'objective without a target',
      stringify(teamFile({ training: { objective: { metric: 'f1' } } })),
      '- training.objective.target: is required',
    ],
    [
      'retrain schedule that EventBridge would refuse',
      stringify(teamFile({ training: { retrainSchedule: 'every monday' }, pipeline: {} })),
      '17 training.retrainSchedule: must be an EventBridge schedule like "cron(0 3 ? * MON *)" or "rate(7 days)"',
    ],
    [
      'retrain schedule without a pipeline',
      stringify(teamFile({ training: { retrainSchedule: 'rate(7 days)' } })),
      '17 training.retrainSchedule: needs a pipeline section: the schedule starts the retraining pipeline',
    ],
    [
      'canary share above half the traffic',
      stringify(teamFile({ pipeline: { canaryPercent: 80 } })),
      '17 pipeline.canaryPercent: Too big: expected number to be <=50',
    ],
    [
      'unknown low-traffic policy',
      stringify(teamFile({ pipeline: { lowTraffic: 'wait' } })),
      '17 pipeline.lowTraffic: must be extend or rollback',
    ],
    [
      'segment regression above one',
      stringify(teamFile({ pipeline: { gate: { maxSegmentRegression: 2 } } })),
      '18 pipeline.gate.maxSegmentRegression: Too big: expected number to be <=1',
    ],
    [
      'unknown pipeline field',
      stringify(teamFile({ pipeline: { bakeMinuets: 5 } })),
      '17 pipeline.bakeMinuets: is not a known field (check the spelling; unknown fields are errors)',
    ],
    [
      'unknown registry approval mode',
      stringify(teamFile({ training: { approval: 'sometimes' } })),
      '17 training.approval: must be one of manual, auto',
    ],
    [
      'invalid YAML',
      'team: [unclosed\n',
      '2 : invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
    ['empty file', '', '- : must be a YAML mapping of fields (is it empty?)'],
  ];

  test.each(cases)('fails on %s', (_name, text, expected) => {
    expect(problemsOf(text)).toContain(expected);
  });

  test('reports every problem of a file at once', () => {
    const problems = problemsOf(
      stringify(teamFile({ account: 'x', region: 'y', costCenter: '', extra: 1 })),
    );
    expect(problems.map((p) => p.split(':')[0].split(' ')[1])).toEqual(
      expect.arrayContaining(['account', 'region', 'costCenter', 'extra']),
    );
  });
});

describe('loading a folder of team files', () => {
  test('loads files sorted by name and applies stage defaults', () => {
    const dir = writeTeamsDir({
      'b.yaml': teamFile({ team: 'search', stage: 'prod' }),
      'a.yml': teamFile({ team: 'fraud', stage: 'dev' }),
      'notes.txt': 'ignored',
    });
    const [fraud, search] = loadTeamConfigs(dir);
    expect([fraud.team, search.team]).toEqual(['fraud', 'search']);
    expect(fraud).toMatchObject({ retainData: true, terminationProtection: false });
    expect(fraud.network.natGateways).toBe(1);
    expect(search).toMatchObject({ retainData: true, terminationProtection: true });
    expect(search.network.natGateways).toBe(2);
    expect(search.dataLake.lifecycle.noncurrentVersionDays).toBe(90);
    expect(search.serving.minReplicas).toBe(3);
    // Registry approval: a person approves prod models; dev and staging approve at publish.
    expect(search.training.approval).toBe('manual');
    expect(fraud.training.approval).toBe('auto');
    expect(Object.isFrozen(search.dataLake.lifecycle)).toBe(true);
    // A tracking server bills around the clock: off in dev unless the team asks.
    expect(fraud.training.experimentTracking).toEqual({ enabled: false, size: 'Small' });
    expect(search.training.experimentTracking).toEqual({ enabled: true, size: 'Small' });
  });

  test('experiment tracking follows the team file where it says', () => {
    const dir = writeTeamsDir({
      'a.yaml': teamFile({ training: { experimentTracking: { enabled: true, size: 'Large' } } }),
    });
    expect(loadTeamConfigs(dir)[0].training.experimentTracking).toEqual({
      enabled: true,
      size: 'Large',
    });
  });

  test('a pipeline section takes its stage defaults; no section, no pipeline', () => {
    const dir = writeTeamsDir({
      'a.yaml': teamFile({ team: 'fraud', stage: 'dev', pipeline: {} }),
      'b.yaml': teamFile({
        team: 'search',
        stage: 'prod',
        pipeline: { bakeMinutes: 30, gate: { primaryFloor: 0.7 } },
      }),
      'c.yaml': teamFile({ team: 'ads', stage: 'prod' }),
    });
    const [fraud, search, ads] = loadTeamConfigs(dir);
    expect(ads.pipeline).toBeUndefined();
    expect(fraud.pipeline).toEqual({
      canaryPercent: 50,
      bakeMinutes: 15,
      approvalTimeoutHours: 72,
      lowTraffic: 'extend',
      minCanaryRequests: 100,
      maxBakeExtensions: 2,
      canary: {
        maxErrorRateIncrease: 0.01,
        maxLatencyIncrease: 0.2,
        maxLowConfidenceIncrease: 0.05,
      },
      gate: {
        primaryFloor: undefined,
        segmentFloor: undefined,
        maxSegmentRegression: 0.02,
        minSegmentRows: 30,
      },
    });
    expect(search.pipeline).toMatchObject({
      canaryPercent: 10,
      bakeMinutes: 30,
      minCanaryRequests: 2000,
      gate: { primaryFloor: 0.7 },
    });
  });

  test('fails on a duplicate team and stage, naming both files', () => {
    const dir = writeTeamsDir({ 'a.yaml': teamFile(), 'b.yaml': teamFile() });
    expect(() => loadTeamConfigs(dir)).toThrow(
      `${path.join(dir, 'b.yaml')}: team "fraud" stage "dev" is already defined in ${path.join(dir, 'a.yaml')}`,
    );
  });

  test('fails with every problem of every file in one error', () => {
    const dir = writeTeamsDir({
      'a.yaml': teamFile({ account: '1' }),
      'b.yaml': teamFile({ team: 'x', stage: 'qa' }),
    });
    let error: unknown;
    try {
      loadTeamConfigs(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(
      (error as ConfigError).problems.map((p) => `${path.basename(p.file)} ${p.path}`),
    ).toEqual(['a.yaml account', 'b.yaml team', 'b.yaml stage']);
    expect((error as Error).message).toMatch(/^Invalid team configuration \(3 problems\):/);
  });

  test('fails on a missing or empty folder', () => {
    expect(() => loadTeamConfigs('/nonexistent/teams')).toThrow(/team config folder not found/);
    expect(() => loadTeamConfigs(writeTeamsDir({}))).toThrow(/no team files/);
  });

  test('selects by team and stage from CDK context', () => {
    const dir = writeTeamsDir({
      'a.yaml': teamFile({ team: 'fraud', stage: 'dev' }),
      'b.yaml': teamFile({ team: 'fraud', stage: 'prod' }),
      'c.yaml': teamFile({ team: 'search', stage: 'dev' }),
    });
    const ctx = (values: Record<string, string>) => ({
      tryGetContext: (k: string) => ({ teamsDir: dir, ...values })[k],
    });
    const names = (values: Record<string, string>) =>
      loadAppConfig(ctx(values)).map((t) => `${t.team}/${t.stage}`);
    expect(names({})).toEqual(['fraud/dev', 'fraud/prod', 'search/dev']);
    expect(names({ team: 'fraud' })).toEqual(['fraud/dev', 'fraud/prod']);
    expect(names({ stage: 'dev' })).toEqual(['fraud/dev', 'search/dev']);
    expect(names({ team: 'fraud', stage: 'prod' })).toEqual(['fraud/prod']);
    expect(() => names({ team: 'nope' })).toThrow(
      'no team file matches team=nope (available: fraud/dev, fraud/prod, search/dev)',
    );
  });

  test('the shipped example team file is valid', () => {
    const [example] = loadTeamConfigs(path.join(__dirname, '..', '..', 'config', 'teams'));
    expect(example).toMatchObject({ team: 'example', stage: 'dev', retainData: false });
  });
});

describe('platforms per account and region', () => {
  test('teams in one account and region share a platform; prod makes it highly available', () => {
    const [platform] = derivePlatforms([
      teamConfig({ team: 'alpha', stage: 'dev' }),
      teamConfig({ team: 'beta', stage: 'prod' }),
    ]);
    expect(platform.teams.map((t) => t.team)).toEqual(['alpha', 'beta']);
    expect(platform.natGateways).toBe(2);
    expect(platform.terminationProtection).toBe(true);
  });

  test('fails when teams sharing a network disagree on its availability zones', () => {
    const a = teamConfig({ team: 'alpha' });
    const b = teamConfig({ team: 'beta', availabilityZones: ['us-east-1a', 'us-east-1c'] });
    expect(() => derivePlatforms([a, b])).toThrow(
      'test.yaml: availabilityZones: must match test.yaml (us-east-1a, us-east-1b): teams in account 222222222222 us-east-1 share one network',
    );
  });
});
