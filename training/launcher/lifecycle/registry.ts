import {
  CreateModelPackageCommand,
  DescribeModelPackageCommand,
  ListModelPackagesCommand,
  UpdateModelPackageCommand,
  type DescribeModelPackageCommandOutput,
  type ModelApprovalStatus,
} from '@aws-sdk/client-sagemaker';
import { aws } from '../lib/aws';
import type { Registry } from './context';

/**
 * Keys of `CustomerMetadataProperties` on every model package the platform registers: how a
 * package names its store version (the registry's own numbers are per group, not ours).
 */
export const PACKAGE_PROPERTIES = {
  model: 'ml-platform:model',
  version: 'ml-platform:version',
  bundle: 'ml-platform:bundle-uri',
  trainingJob: 'ml-platform:training-job',
  /**
   * The stage's approval mode when the package was registered. `auto` packages are Approved
   * at creation; the approval Lambda leaves them alone (their approval is no one's decision).
   */
  approval: 'ml-platform:approval',
  /**
   * The retraining pipeline execution that registered the package: that execution rolls it
   * out (canary, check, promote), so the approval Lambda leaves its approval to it.
   */
  pipelineExecution: 'ml-platform:pipeline-execution',
} as const;

export interface ModelPackage {
  readonly arn: string;
  /** The registry's number for the package in its group. */
  readonly number?: number;
  /** The store version it registers (undefined for a package the platform did not create). */
  readonly version?: string;
  readonly status: ModelApprovalStatus | 'Unknown';
  readonly approvalDescription?: string;
  readonly created?: Date;
  /** Who last changed it, as SageMaker reports it. */
  readonly modifiedBy?: string;
  readonly properties: Readonly<Record<string, string>>;
}

function toPackage(d: DescribeModelPackageCommandOutput): ModelPackage {
  const by = d.LastModifiedBy;
  return {
    arn: d.ModelPackageArn ?? '',
    number: d.ModelPackageVersion,
    version: d.CustomerMetadataProperties?.[PACKAGE_PROPERTIES.version],
    status: d.ModelApprovalStatus ?? 'Unknown',
    approvalDescription: d.ApprovalDescription,
    created: d.CreationTime,
    modifiedBy: by?.IamIdentity?.Arn ?? by?.UserProfileName,
    properties: d.CustomerMetadataProperties ?? {},
  };
}

export async function describePackage(registry: Registry, arn: string): Promise<ModelPackage> {
  const d = await aws(`describing model package ${arn}`, () =>
    registry.sagemaker.send(new DescribeModelPackageCommand({ ModelPackageName: arn })),
  );
  return toPackage(d);
}

/** The group's packages, newest first (one Describe each: the summaries lack our properties). */
export async function listPackages(
  registry: Registry,
  stopAt?: (p: ModelPackage) => boolean,
): Promise<ModelPackage[]> {
  const found: ModelPackage[] = [];
  let NextToken: string | undefined;
  do {
    const page = await aws(`listing model packages of ${registry.group}`, () =>
      registry.sagemaker.send(
        new ListModelPackagesCommand({
          ModelPackageGroupName: registry.group,
          SortBy: 'CreationTime',
          SortOrder: 'Descending',
          NextToken,
        }),
      ),
    );
    for (const summary of page.ModelPackageSummaryList ?? []) {
      const p = await describePackage(registry, summary.ModelPackageArn!);
      found.push(p);
      if (stopAt?.(p)) return found;
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return found;
}

/** The newest package that registers `version`, if any. */
export async function findPackage(
  registry: Registry,
  version: string,
): Promise<ModelPackage | undefined> {
  const packages = await listPackages(registry, (p) => p.version === version);
  return packages.find((p) => p.version === version);
}

export interface Registration {
  readonly modelName: string;
  readonly version: string;
  /** `s3://.../versions/<version>` */
  readonly bundleUri: string;
  /** The ModelQuality statistics JSON (./model-quality.ts). */
  readonly qualityUri: string;
  readonly trainingJobArn?: string;
  readonly pipelineExecutionArn?: string;
}

/** Registers a version in the group, Approved or PendingManualApproval as the stage says. */
export async function registerPackage(registry: Registry, r: Registration): Promise<ModelPackage> {
  const res = await aws(`registering ${r.modelName} ${r.version} in ${registry.group}`, () =>
    registry.sagemaker.send(
      new CreateModelPackageCommand({
        ModelPackageGroupName: registry.group,
        ModelPackageDescription: `${r.modelName} ${r.version} (${r.bundleUri})`,
        ModelApprovalStatus: registry.approval === 'auto' ? 'Approved' : 'PendingManualApproval',
        ModelMetrics: {
          ModelQuality: {
            Statistics: { ContentType: 'application/json', S3Uri: r.qualityUri },
          },
        },
        ...(r.trainingJobArn ? { MetadataProperties: { GeneratedBy: r.trainingJobArn } } : {}),
        CustomerMetadataProperties: {
          [PACKAGE_PROPERTIES.model]: r.modelName,
          [PACKAGE_PROPERTIES.version]: r.version,
          [PACKAGE_PROPERTIES.bundle]: r.bundleUri,
          [PACKAGE_PROPERTIES.approval]: registry.approval,
          ...(r.trainingJobArn ? { [PACKAGE_PROPERTIES.trainingJob]: r.trainingJobArn } : {}),
          ...(r.pipelineExecutionArn
            ? { [PACKAGE_PROPERTIES.pipelineExecution]: r.pipelineExecutionArn }
            : {}),
        },
      }),
    ),
  );
  return describePackage(registry, res.ModelPackageArn!);
}

/** Sets a package's approval; a package already in that state is left alone (no event). */
export async function setApproval(
  registry: Registry,
  pkg: ModelPackage,
  status: 'Approved' | 'Rejected',
  description: string,
): Promise<ModelPackage> {
  if (pkg.status === status) return pkg;
  await aws(`setting ${pkg.arn} to ${status}`, () =>
    registry.sagemaker.send(
      new UpdateModelPackageCommand({
        ModelPackageArn: pkg.arn,
        ModelApprovalStatus: status,
        ApprovalDescription: description.slice(0, 1024),
        // The same values again: SageMaker merges them (no change), while an update without
        // them clears them in moto 5.2.1, the emulator the tests and the README run on.
        CustomerMetadataProperties: { ...pkg.properties },
      }),
    ),
  );
  return { ...pkg, status, approvalDescription: description };
}
