import { Match, Template } from 'aws-cdk-lib/assertions';
import { stringify } from 'yaml';
import { parseTeamFile } from '../../lib/config';
import { buildApp, teamConfig, teamFile } from '../helpers/teams';

function problemsOf(training: Record<string, unknown>): string[] {
  const result = parseTeamFile('teams/bad.yaml', stringify(teamFile({ training })));
  if (!('problems' in result)) throw new Error('expected the file to be rejected');
  return result.problems.map((p) => `${p.line ?? '-'} ${p.path}: ${p.message}`);
}

describe('multi-instance training in the team file', () => {
  test('defaults: one instance, every GPU of the instance type', () => {
    expect(teamConfig().training).toMatchObject({
      instanceType: 'ml.g5.xlarge',
      instanceCount: 1,
      gpusPerInstance: 1,
    });
    expect(
      teamConfig({ training: { instanceType: 'ml.p4d.24xlarge', instanceCount: 4 } }).training,
    ).toMatchObject({ instanceCount: 4, gpusPerInstance: 8 });
    expect(
      teamConfig({ training: { instanceType: 'ml.g5.48xlarge', gpusPerInstance: 2 } }).training,
    ).toMatchObject({ gpusPerInstance: 2 });
  });

  // Each row: training settings that cannot work, and the exact problem (line, path, reason).
  const cases: [string, Record<string, unknown>, string][] = [
    [
      'more GPUs than the instance type has',
      { instanceType: 'ml.g5.2xlarge', gpusPerInstance: 4 },
      '18 training.gpusPerInstance: is 4, but ml.g5.2xlarge has 1 GPU',
    ],
    [
      'multi-instance on a CPU instance type',
      { instanceType: 'ml.m5.xlarge', instanceCount: 2 },
      '18 training.instanceCount: is 2, but ml.m5.xlarge has no GPU: multi-instance training runs one process per GPU and talks NCCL between them',
    ],
    [
      'GPUs asked of a CPU instance type',
      { instanceType: 'ml.c5.xlarge', gpusPerInstance: 1 },
      '18 training.gpusPerInstance: is 1, but ml.c5.xlarge has no GPUs',
    ],
    [
      'multi-instance on an instance type of unknown size',
      { instanceType: 'ml.x9.huge', instanceCount: 2 },
      '17 training.instanceType: ml.x9.huge is not a known training instance type (constructs/training/instance-types.ts), so a 2-instance job cannot size its nodes: use a listed GPU type or add it there',
    ],
    [
      'zero instances',
      { instanceCount: 0 },
      '17 training.instanceCount: Too small: expected number to be >=1',
    ],
  ];
  test.each(cases)('fails on %s', (_name, training, problem) => {
    expect(problemsOf(training)).toEqual([problem]);
  });

  test('a team file asking for 2 instances of 4 GPUs synthesizes, cdk-nag clean, with a multi-node job', () => {
    // GIVEN a team file with multi-instance training
    const config = teamConfig({ training: { instanceType: 'ml.g5.12xlarge', instanceCount: 2 } });
    // WHEN the whole app is built (cdk-nag included) and synthesized
    const { app, teams } = buildApp([config]);
    expect(() => app.synth({ force: true })).not.toThrow();
    // THEN the team stack has the multi-node parallel job definition of 2 nodes x 4 GPUs
    const template = Template.fromStack(teams[0]);
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      Type: 'multinode',
      NodeProperties: {
        NumNodes: 2,
        MainNode: 0,
        NodeRangeProperties: [{ TargetNodes: '0:', Container: Match.anyValue() }],
      },
    });
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/ml-platform/fraud/dev/training/instance-count',
      Value: '2',
    });
  });
});
