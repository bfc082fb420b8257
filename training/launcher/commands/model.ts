import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { UsageError } from '../cli/errors';
import type { ModelOptions, ParsedModelCommandLine } from '../cli/model-options';
import type { Runtime } from '../cli/runtime';
import { formatTable } from '../cli/table';
import { aws, clientConfig, makeClients, type AwsClients } from '../lib/aws';
import type { Lifecycle } from '../lifecycle/context';
import { loadModelEnvironment, type ModelEnvironment } from '../lifecycle/environment';
import { list, type VersionListing } from '../lifecycle/list';
import { promote, type PromoteResult } from '../lifecycle/promote';
import { rollback, type RollbackResult } from '../lifecycle/rollback';
import { resolveBundle } from '../lifecycle/source';
import { status, type StatusReport } from '../lifecycle/status';
import type { PublishResult } from '../lifecycle/publish';

/** The clients `npm run model` uses: the launcher's, plus CloudWatch (status) and STS (who). */
export interface ModelClients extends AwsClients {
  readonly cloudwatch: CloudWatchClient;
  readonly sts: STSClient;
}

export function modelClients(options: ModelOptions): ModelClients {
  const { common } = clientConfig(options);
  return {
    ...makeClients(options),
    cloudwatch: new CloudWatchClient(common),
    sts: new STSClient(common),
  };
}

function lifecycleOf(env: ModelEnvironment, clients: ModelClients, runtime: Runtime): Lifecycle {
  let actor: Promise<string> | undefined;
  return {
    store: {
      s3: clients.s3,
      bucket: env.bucket,
      modelName: env.modelName,
      kmsKeyArn: env.kmsKeyArn,
    },
    registry: {
      sagemaker: clients.sagemaker,
      group: env.modelPackageGroup,
      approval: env.approval,
    },
    now: runtime.now,
    actor: () =>
      (actor ??= aws('finding out who you are (sts:GetCallerIdentity)', () =>
        clients.sts.send(new GetCallerIdentityCommand({})),
      ).then((id) => id.Arn ?? 'unknown')),
  };
}

const pct = (v: number | undefined) => (v === undefined ? '' : `${(v * 100).toFixed(2)}%`);
const num = (v: unknown, digits = 4) => (typeof v === 'number' ? v.toFixed(digits) : '');

function printPublish(r: PublishResult, runtime: Runtime): void {
  runtime.stdout(
    formatTable(
      ['FIELD', 'VALUE'],
      [
        ['model', r.model],
        ['version', r.version],
        ['store', r.uri],
        ['uploaded', r.uploaded.join(', ') || 'nothing (the store holds these bytes already)'],
        ['package', `${r.package.arn}${r.packageCreated ? ' (registered now)' : ''}`],
        ['approval', r.package.status],
        ['production', r.madeProduction ? `${r.version} (the model's first version)` : 'unchanged'],
      ],
    ),
  );
  if (!r.madeProduction && !r.unchanged)
    runtime.stderr(`next: npm run model -- promote ${r.version} --canary 10 (or without --canary)`);
}

function printPromote(r: PromoteResult, runtime: Runtime): void {
  const rows = [
    [r.alias, `${r.version} (${r.trafficPercent}% of requests)`],
    ['before', r.previous ?? 'none'],
    ['changed', r.changed ? 'yes' : 'no: the alias named it already'],
  ];
  if (r.candidateCleared) rows.push(['candidate', 'cleared (it is production now)']);
  if (r.alias === 'production')
    rows.push(['approval', r.package ? r.package.status : 'unregistered']);
  runtime.stdout(formatTable(['FIELD', 'VALUE'], rows));
}

function printRollback(r: RollbackResult, runtime: Runtime): void {
  runtime.stdout(
    formatTable(
      ['FIELD', 'VALUE'],
      [
        [
          'rolled back',
          r.alias === 'candidate'
            ? `canary ${r.from} (its share is 0% now)`
            : `production ${r.from}`,
        ],
        ['production', `${r.to} (100% of requests)`],
        ['rejected', r.rejected ? r.rejected.arn : 'no package registered'],
      ],
    ),
  );
}

function printStatus(r: StatusReport, runtime: Runtime): void {
  if (r.versions.length === 0) {
    runtime.stdout(`${r.model}: nothing serves yet (no production alias): publish a model`);
    return;
  }
  runtime.stdout(
    formatTable(
      [
        'VERSION',
        'ALIAS',
        'TRAFFIC',
        `REQUESTS(${r.minutes}m)`,
        'ERRORS',
        'P99_MS',
        'CONFIDENCE',
        'APPROVAL',
        'UPDATED',
        'BY',
        'REASON',
      ],
      r.versions.map((v) => [
        v.version,
        v.alias,
        `${v.trafficPercent}%`,
        v.requests === undefined ? '' : String(v.requests),
        pct(v.errorRate),
        num(v.latencyP99Ms, 1),
        num(v.meanConfidence, 3),
        v.approval,
        v.updatedAt ?? '',
        v.updatedBy ?? '',
        v.reason ?? '',
      ]),
    ),
  );
}

function printList(rows: readonly VersionListing[], runtime: Runtime): void {
  if (rows.length === 0) {
    runtime.stdout('no versions in the store or the registry yet: publish a model');
    return;
  }
  runtime.stdout(
    formatTable(
      ['VERSION', 'CREATED', 'ALIAS', 'STORE', 'REGISTRY', 'ACCURACY', 'F1', 'ROC_AUC'],
      rows.map((r) => [
        r.version,
        r.createdAt ?? '',
        r.aliases.join(','),
        r.inStore ? 'yes' : 'no',
        r.approval ?? 'unregistered',
        num(r.testMetrics.accuracy),
        num(r.testMetrics.f1),
        num(r.testMetrics.roc_auc),
      ]),
    ),
  );
}

/** `npm run model -- <command>`: reads the team's resources from SSM, then runs the command. */
export async function runModelCommand(
  { command, args, options }: ParsedModelCommandLine,
  runtime: Runtime,
  clients: ModelClients = modelClients(options),
): Promise<void> {
  if (options.canary !== undefined && command !== 'promote')
    throw new UsageError(`--canary applies to promote only, not ${command}`);
  const env = await loadModelEnvironment(clients.ssm, options.team, options.stage, clients.region);
  const ctx = lifecycleOf(env, clients, runtime);
  const print = <T>(result: T, human: (r: T, runtime: Runtime) => void) =>
    options.json ? runtime.stdout(JSON.stringify(result, null, 2)) : human(result, runtime);

  switch (command) {
    case 'publish': {
      // Only publish loads ONNX Runtime.
      const { publish } = await import('../lifecycle/publish');
      const source = await resolveBundle(args[0], clients, env.outputS3Uri);
      try {
        runtime.stderr(`verifying ${source.description}`);
        const result = await publish(ctx, source.dir, {
          trainingJobArn: source.trainingJobArn,
          requireTarget: options.requireTarget,
        });
        for (const warning of result.warnings) runtime.stderr(`warning: ${warning}`);
        return print(result, printPublish);
      } finally {
        source.cleanup();
      }
    }
    case 'promote':
      return print(
        await promote(ctx, args[0], { canaryPercent: options.canary, reason: options.reason }),
        printPromote,
      );
    case 'rollback':
      return print(await rollback(ctx, options.reason), printRollback);
    case 'status':
      return print(await status(ctx, clients.cloudwatch, env, options.minutes), printStatus);
    case 'list':
      return print(await list(ctx), printList);
  }
}
