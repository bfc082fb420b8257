import * as fs from 'node:fs';
import * as path from 'node:path';
import { runDiff } from '../../diff/main';
import { GITHUB_COMMENT_LIMIT } from '../../diff/markdown';
import {
  copyAssembly,
  editManifests,
  editTemplate,
  findResource,
  PLATFORM_STACK,
  synthFixture,
  TEAM_STACK,
  tempRoot,
} from './assembly-fixtures';

// One real synth for the whole file; each case edits a copy of it.
let synthesized: string;
beforeAll(() => {
  synthesized = synthFixture();
});

interface Result {
  code: number;
  markdown: string;
  stderr: string;
}

/** Runs `npm run diff -- --base-out base --head-out head --fail-on-replace` on an edited copy. */
async function diffAfter(
  edit: (head: string) => void,
  flags: string[] = ['--fail-on-replace'],
): Promise<Result> {
  const root = tempRoot('mlp-diff-case-');
  copyAssembly(synthesized, root, 'base');
  edit(copyAssembly(synthesized, root, 'head'));
  let markdown = '';
  let stderr = '';
  const code = await runDiff(['--base-out', 'base', '--head-out', 'head', ...flags], {
    cwd: root,
    stdout: (t) => (markdown += t),
    stderr: (t) => (stderr += t),
  });
  return { code, markdown, stderr };
}

const alarm = (head: string, threshold: number) =>
  editTemplate(head, TEAM_STACK, (r) => {
    findResource(r, 'AWS::CloudWatch::Alarm', 'HighErrorRate').Properties.Threshold = threshold;
  });

describe('npm run diff on fixture pairs', () => {
  test('no change at all says "no changes" and exits 0', async () => {
    const { code, markdown } = await diffAfter(() => undefined);
    expect(code).toBe(0);
    expect(markdown.split('\n')[0]).toBe(
      '**Infra diff** `base` → `head`: no changes (2 stacks compared)',
    );
    expect(markdown).toMatchSnapshot();
  });

  test('a harmless change (an alarm threshold) is a one-resource modification and exits 0', async () => {
    const { code, markdown } = await diffAfter((head) => alarm(head, 0.2));
    expect(code).toBe(0);
    expect(markdown).toContain('`Properties.Threshold`: `0.05` → `0.2`');
    expect(markdown).not.toContain('REPLACES');
    expect(markdown).toMatchSnapshot();
  });

  test('a bucket replacement goes on top in bold with its cause, and --fail-on-replace exits 3', async () => {
    const edit = (head: string) =>
      editTemplate(head, TEAM_STACK, (r) => {
        findResource(r, 'AWS::S3::Bucket', 'DataLakeRaw').Properties.BucketName =
          'alpha-raw-renamed';
      });
    const { code, markdown } = await diffAfter(edit);
    expect(code).toBe(3);
    const lines = markdown.split('\n');
    expect(lines[0]).toContain('**⚠️ 1 stateful resource replaced or deleted**');
    expect(lines.find((l) => l.startsWith('- **⚠️ REPLACES'))).toBe(
      '- **⚠️ REPLACES `mlp-alpha-dev` `DataLake/Raw` (AWS::S3::Bucket), caused by `BucketName`**',
    );
    expect(markdown).toMatchSnapshot();
    // Without the flag the same diff is only a report.
    expect((await diffAfter(edit, [])).code).toBe(0);
  });

  test('deleting a retained KMS key is a stateful deletion too (exit 3)', async () => {
    const { code, markdown } = await diffAfter((head) =>
      editTemplate(head, TEAM_STACK, (r) => {
        const [id] = Object.entries(r).find(([, x]) => x.Type === 'AWS::KMS::Key') ?? [];
        delete r[id as string];
      }),
    );
    expect(code).toBe(3);
    expect(markdown).toMatch(/- \*\*⚠️ DELETES `mlp-alpha-dev` `[^`]+` \(AWS::KMS::Key\)/);
  });

  test('an IAM widening is a table row marked as widening', async () => {
    const { code, markdown } = await diffAfter((head) =>
      editTemplate(head, TEAM_STACK, (r) => {
        findResource(
          r,
          'AWS::IAM::Policy',
          'ServingPodRole',
        ).Properties.PolicyDocument.Statement.push({
          Effect: 'Allow',
          Action: 's3:*',
          Resource: '*',
        });
      }),
    );
    expect(code).toBe(0);
    expect(markdown.split('\n')[0]).toContain('IAM widened (1)');
    expect(markdown).toMatch(
      /\| \+ \| \*\*⚠️ yes\*\* \| Allow \| s3:\* \| \* \| AWS:\$\{ServingPodRole[0-9A-F]+\} \|/,
    );
    expect(markdown).toMatchSnapshot();
  });

  test('a security group opened to 0.0.0.0/0 is marked as open to the internet', async () => {
    const { code, markdown } = await diffAfter((head) =>
      editTemplate(head, TEAM_STACK, (r) => {
        findResource(r, 'AWS::EC2::SecurityGroup', 'Training').Properties.SecurityGroupIngress = [
          { CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 22, ToPort: 22 },
        ];
      }),
    );
    expect(code).toBe(0);
    expect(markdown.split('\n')[0]).toContain('security groups widened (1)');
    expect(markdown).toContain('| + | **⚠️ yes: open to the internet** | ingress |');
    expect(markdown).toMatchSnapshot();
  });

  test('a Kubernetes image change shows as the container field that changed', async () => {
    const { code, markdown } = await diffAfter((head) =>
      editManifests(head, TEAM_STACK, (objects) => {
        const d = objects.find((o) => o.kind === 'Deployment');
        d.spec.template.spec.containers[0].image = 'registry.example.com/inference:2.0.0';
      }),
    );
    expect(code).toBe(0);
    expect(markdown).toContain('- ~ `Deployment/alpha-dev/inference`');
    expect(markdown).toMatch(
      /`spec\.template\.spec\.containers\[inference\]\.image`: `[^`]+` → `registry\.example\.com\/inference:2\.0\.0`/,
    );
    expect(markdown).toMatchSnapshot();
  });

  test("a change to the HPA's max replicas shows the field and the capacity it buys, as numbers", async () => {
    const { code, markdown } = await diffAfter((head) =>
      editManifests(head, TEAM_STACK, (objects) => {
        objects.find((o) => o.kind === 'HorizontalPodAutoscaler').spec.maxReplicas = 10;
      }),
    );
    expect(code).toBe(0);
    expect(markdown).toContain('  - `spec.maxReplicas`: `3` → `10`');
    expect(markdown).toContain('| alpha/dev | alpha-dev/inference: max replicas | 3 | 10 | +7 |');
    expect(markdown).toContain(
      '| alpha/dev | alpha-dev/inference: max replicas × CPU requests | 3 vCPU | 10 vCPU | +7 |',
    );
    expect(markdown).toMatchSnapshot();
  });

  test('a Helm chart version and values change shows per release, field by field', async () => {
    const { code, markdown } = await diffAfter((head) =>
      editTemplate(head, PLATFORM_STACK, (r) => {
        const chart = findResource(r, 'Custom::AWSCDK-EKS-HelmChart', 'Prometheus');
        const values = JSON.parse(chart.Properties.Values);
        values.alertmanager.enabled = true;
        chart.Properties.Values = JSON.stringify(values);
        chart.Properties.Version = '99.0.0';
      }),
    );
    expect(code).toBe(0);
    expect(markdown.split('\n')[0]).toContain('1 Helm release');
    expect(markdown).toMatch(
      /- ~ `monitoring\/prometheus`\n {2}- `values\.alertmanager\.enabled`: `false` → `true`\n {2}- `version`: `[0-9.]+` → `99\.0\.0`/,
    );
  });

  test('a team added is a new stack with its resources, objects and capacity', async () => {
    const { code, markdown } = await diffAfter((head) => {
      const manifestFile = path.join(head, 'manifest.json');
      const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
      const team = structuredClone(manifest.artifacts[TEAM_STACK]);
      team.displayName = 'mlp-beta-dev';
      team.properties.templateFile = 'mlp-beta-dev.template.json';
      team.properties.tags['ml-platform:team'] = 'beta';
      team.additionalMetadataFile = 'mlp-beta-dev.metadata.json';
      manifest.artifacts['mlp-beta-dev'] = team;
      fs.writeFileSync(manifestFile, JSON.stringify(manifest));
      for (const kind of ['template', 'metadata']) {
        const text = fs.readFileSync(path.join(head, `${TEAM_STACK}.${kind}.json`), 'utf8');
        fs.writeFileSync(
          path.join(head, `mlp-beta-dev.${kind}.json`),
          text.replace(/alpha/g, 'beta'),
        );
      }
    });
    expect(code).toBe(0);
    expect(markdown.split('\n')[0]).toMatch(
      /^\*\*Infra diff\*\* `base` → `head`: 1 stack changed · resources: \d+ added/,
    );
    expect(markdown).toContain('<summary>beta/dev: mlp-beta-dev (stack added):');
    expect(markdown).toContain(
      '| beta/dev | beta-dev/inference: max replicas × CPU requests | — | 3 vCPU | new |',
    );
    expect(markdown).toMatchSnapshot();
  });

  test('new and resolved cdk-nag findings and acknowledgements are listed per stack', async () => {
    const { markdown } = await diffAfter((head) => {
      const metaFile = path.join(head, `${TEAM_STACK}.metadata.json`);
      const meta: Record<string, { type: string }[]> = JSON.parse(
        fs.readFileSync(metaFile, 'utf8'),
      );
      const [ackPath] = Object.entries(meta).find(([, es]) =>
        es.some((e) => e.type === 'aws:cdk:acknowledged-rules'),
      ) as [string, { type: string }[]];
      meta[ackPath] = meta[ackPath].filter((e) => e.type !== 'aws:cdk:acknowledged-rules');
      fs.writeFileSync(metaFile, JSON.stringify(meta));
      fs.writeFileSync(
        path.join(head, 'validation-report.json'),
        JSON.stringify({
          pluginReports: [
            {
              pluginName: 'AwsSolutions',
              violations: [
                {
                  ruleName: 'AwsSolutions-S1',
                  description: 'The S3 Bucket has server access logs disabled.',
                  severity: 'error',
                  violatingConstructs: [
                    { constructPath: `${TEAM_STACK}/DataLake/AccessLogs/Resource` },
                  ],
                },
              ],
            },
          ],
        }),
      );
    });
    expect(markdown.split('\n')[0]).toMatch(
      /cdk-nag findings \+1\/−0 · acknowledgements \+0\/−\d+/,
    );
    expect(markdown).toContain(
      '- **new finding** `AwsSolutions-S1` on `mlp-alpha-dev/DataLake/AccessLogs/Resource`: The S3 Bucket has server access logs disabled.',
    );
    expect(markdown).toMatch(
      /- acknowledgement removed: `AwsSolutions-[A-Z0-9]+[^`]*` on `mlp-alpha-dev\//,
    );
  });

  test('a diff too large for one comment is cut at the limit with a note that says what was cut', async () => {
    const { code, markdown } = await diffAfter((head) => {
      editTemplate(head, TEAM_STACK, (r) => {
        for (let i = 0; i < 3000; i++) {
          r[`Generated${i}`] = {
            Type: 'AWS::SSM::Parameter',
            Properties: { Type: 'String', Name: `/generated/${i}`, Value: 'x'.repeat(40) },
          };
        }
      });
      alarm(head, 0.2);
      editTemplate(head, PLATFORM_STACK, (r) => {
        findResource(r, 'AWS::EKS::Nodegroup', 'Cpu').Properties.ScalingConfig.MaxSize = 9;
      });
    });
    expect(code).toBe(0);
    expect(markdown.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(markdown.length).toBeGreaterThan(GITHUB_COMMENT_LIMIT - 2000);
    expect(markdown.split('\n')[0]).toContain('resources: 3000 added, 2 modified');
    expect(markdown).toMatch(
      /> \*\*Truncated\*\* to fit GitHub's 65,536-character comment limit: cut the last \d+ lines of mlp-alpha-dev; all of mlp-platform-111111111111-eu-west-1\./,
    );
    // The capacity table comes before the cut, so the platform's node group change still shows.
    expect(markdown).toContain(
      '| platform 111111111111/eu-west-1 | node group Serving/NodegroupCpuNodes: max nodes | 4 | 9 | +5 |',
    );
    expect(markdown.trimEnd().endsWith('for the full diff.')).toBe(true);
  });

  test('--json gives the same diff for tools', async () => {
    const { markdown: json } = await diffAfter((head) => alarm(head, 0.2), ['--json']);
    const report = JSON.parse(json);
    expect(report.summary).toMatchObject({
      stacksChanged: 1,
      resourcesModified: 1,
      statefulRisks: 0,
    });
    expect(report.stacks[0].cloudformation.resources[0]).toMatchObject({
      type: 'AWS::CloudWatch::Alarm',
      change: 'modified',
      fields: [{ path: 'Properties.Threshold', from: 0.05, to: 0.2 }],
    });
  });

  test('fails with a one-line error naming the side when an assembly is missing', async () => {
    const root = tempRoot('mlp-diff-case-');
    copyAssembly(synthesized, root, 'base');
    let stderr = '';
    const code = await runDiff(['--base-out', 'base', '--head-out', 'nope'], {
      cwd: root,
      stdout: () => undefined,
      stderr: (t) => (stderr += t),
    });
    expect(code).toBe(1);
    expect(stderr).toBe(
      `diff: head: ${path.join(root, 'nope')} is not a cloud assembly (no manifest.json)\n`,
    );
  });
});
