import { Duration, RemovalPolicy, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { acknowledge } from '../private/acknowledge';

/** The zones of a data lake, in the order data flows through them. */
export const DATA_ZONES = ['raw', 'processed', 'features', 'models'] as const;
export type DataZone = (typeof DATA_ZONES)[number];

export interface DataLakeLifecycle {
  /**
   * Days after which objects move to S3 Intelligent-Tiering (all zones but `models`, which the
   * serving pods read constantly).
   * @default 30
   */
  readonly intelligentTieringDays?: number;
  /**
   * Days after which raw objects move to Glacier Flexible Retrieval.
   * @default - raw data stays in Intelligent-Tiering
   */
  readonly rawGlacierDays?: number;
  /**
   * Days a noncurrent object version is kept before it expires.
   * @default 90
   */
  readonly noncurrentVersionDays?: number;
  /**
   * Days before an incomplete multipart upload is aborted.
   * @default 7
   */
  readonly abortIncompleteUploadDays?: number;
  /**
   * Days server access logs are kept.
   * @default 365
   */
  readonly accessLogDays?: number;
}

export interface DataLakeProps {
  /**
   * Customer managed key for every zone.
   * @default - a new key with yearly rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the buckets and the key when the stack is deleted or they leave it.
   * `DESTROY` also empties the buckets first: use it only for a throwaway dev stage.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Write-once-read-many retention for the raw zone. It can only be chosen when the bucket
   * is created.
   * @default - no object lock
   */
  readonly rawObjectLock?: { readonly mode: 'governance' | 'compliance'; readonly days: number };
  /** @default - the defaults of each field */
  readonly lifecycle?: DataLakeLifecycle;
}

/**
 * A team's data lake: one bucket per zone (raw / processed / features / models) so each zone
 * has its own object lock, lifecycle and access policy; one customer managed KMS key; server
 * access logs for every zone in a separate log bucket.
 *
 * Every bucket is versioned, blocks public access, enforces TLS 1.2+, uses bucket-owner
 * ownership (no ACLs) and aborts stale multipart uploads.
 */
export class DataLake extends Construct {
  /** The customer managed key that encrypts every zone. */
  readonly encryptionKey: kms.IKey;
  /** Receives server access logs of every zone (SSE-S3: log delivery cannot use SSE-KMS). */
  readonly accessLogsBucket: s3.IBucket;
  private readonly buckets: Record<DataZone, s3.Bucket>;

  constructor(scope: Construct, id: string, props: DataLakeProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const destroy = removalPolicy === RemovalPolicy.DESTROY;
    const lifecycle = props.lifecycle ?? {};
    validateDays(this, lifecycle, props.rawObjectLock);
    if (destroy && props.rawObjectLock) {
      throw new Error(
        `${this.node.path}: rawObjectLock cannot be combined with RemovalPolicy.DESTROY (locked objects cannot be deleted)`,
      );
    }

    this.encryptionKey =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        description: `Data lake key for ${this.node.path}`,
        enableKeyRotation: true,
        removalPolicy,
        pendingWindow: Duration.days(destroy ? 7 : 30),
      });

    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      removalPolicy,
      autoDeleteObjects: destroy,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: Duration.days(lifecycle.accessLogDays ?? 365),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the server access log target of the data lake; logging it into itself would loop. Writes to it come only from the S3 logging service (bucket policy).',
    });
    this.accessLogsBucket = accessLogs;

    const zoneBucket = (zone: DataZone): s3.Bucket => {
      const rules: s3.LifecycleRule[] = [
        {
          id: 'abort-incomplete-uploads-and-expire-old-versions',
          abortIncompleteMultipartUploadAfter: Duration.days(
            lifecycle.abortIncompleteUploadDays ?? 7,
          ),
          noncurrentVersionExpiration: Duration.days(lifecycle.noncurrentVersionDays ?? 90),
          expiredObjectDeleteMarker: true,
        },
      ];
      if (zone !== 'models') {
        const transitions: s3.Transition[] = [
          {
            storageClass: s3.StorageClass.INTELLIGENT_TIERING,
            transitionAfter: Duration.days(lifecycle.intelligentTieringDays ?? 30),
          },
        ];
        if (zone === 'raw' && lifecycle.rawGlacierDays !== undefined) {
          transitions.push({
            storageClass: s3.StorageClass.GLACIER,
            transitionAfter: Duration.days(lifecycle.rawGlacierDays),
          });
        }
        rules.push({ id: 'tiering', transitions });
      }
      const lock = zone === 'raw' ? props.rawObjectLock : undefined;
      return new s3.Bucket(this, capitalize(zone), {
        encryption: s3.BucketEncryption.KMS,
        encryptionKey: this.encryptionKey,
        bucketKeyEnabled: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforceSSL: true,
        minimumTLSVersion: 1.2,
        versioned: true,
        serverAccessLogsBucket: accessLogs,
        serverAccessLogsPrefix: `${zone}/`,
        lifecycleRules: rules,
        removalPolicy,
        autoDeleteObjects: destroy,
        objectLockEnabled: lock ? true : undefined,
        objectLockDefaultRetention: lock
          ? lock.mode === 'compliance'
            ? s3.ObjectLockRetention.compliance(Duration.days(lock.days))
            : s3.ObjectLockRetention.governance(Duration.days(lock.days))
          : undefined,
      });
    };
    this.buckets = {
      raw: zoneBucket('raw'),
      processed: zoneBucket('processed'),
      features: zoneBucket('features'),
      models: zoneBucket('models'),
    };
  }

  /** The bucket that holds a zone. */
  bucket(zone: DataZone): s3.IBucket {
    return this.buckets[zone];
  }

  /**
   * Lets `grantee` read objects (and decrypt them) in a zone, optionally under a key prefix
   * such as `models/*`.
   */
  grantRead(zone: DataZone, grantee: iam.IGrantable, objectsKeyPattern: string = '*'): iam.Grant {
    return this.buckets[zone].grantRead(grantee, objectsKeyPattern);
  }

  /**
   * Lets `grantee` write objects (and encrypt them) in a zone, optionally under a key prefix.
   * Deleting is not included: versioned zones keep history, and deletes are an explicit grant.
   */
  grantWrite(zone: DataZone, grantee: iam.IGrantable, objectsKeyPattern: string = '*'): iam.Grant {
    return this.buckets[zone].grantPut(grantee, objectsKeyPattern);
  }

  /**
   * Acknowledges, on `grantee` only, the cdk-nag wildcard findings that prefix-scoped grants on
   * this lake produce: the object keys below each granted prefix and the S3/KMS action
   * families of the grant. Call it with the same zones and prefixes as the grants.
   */
  acknowledgeGrants(
    grantee: IConstruct,
    grants: readonly { zone: DataZone; prefix: string }[],
    reason: string,
  ): void {
    const stack = Stack.of(this);
    const ids = grants.map(({ zone, prefix }) => {
      const logicalId = stack.resolve(
        stack.getLogicalId(this.buckets[zone].node.defaultChild as CfnElement),
      );
      return `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${prefix}/*]`;
    });
    acknowledge(grantee, reason, ...ids, ...GRANT_ACTION_FINDINGS);
  }

  /** Read and write (not delete) in a zone. */
  grantReadWrite(
    zone: DataZone,
    grantee: iam.IGrantable,
    objectsKeyPattern: string = '*',
  ): iam.Grant {
    return this.grantRead(zone, grantee, objectsKeyPattern).combine(
      this.grantWrite(zone, grantee, objectsKeyPattern),
    );
  }
}

/** The S3 and KMS action families that read/write grants use (cdk-nag IAM5 findings). */
const GRANT_ACTION_FINDINGS = [
  'AwsSolutions-IAM5[Action::s3:GetObject*]',
  'AwsSolutions-IAM5[Action::s3:GetBucket*]',
  'AwsSolutions-IAM5[Action::s3:List*]',
  'AwsSolutions-IAM5[Action::s3:Abort*]',
  'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
  'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
];

function capitalize(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

function validateDays(
  scope: Construct,
  lifecycle: DataLakeLifecycle,
  lock: DataLakeProps['rawObjectLock'],
): void {
  const fields: [string, number | undefined][] = [
    ...Object.entries(lifecycle).map(([k, v]) => [`lifecycle.${k}`, v] as [string, number]),
    ['rawObjectLock.days', lock?.days],
  ];
  for (const [name, value] of fields) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
      throw new Error(
        `${scope.node.path}: ${name} must be a whole number of days >= 0, got ${value}`,
      );
    }
  }
  const { intelligentTieringDays = 30, rawGlacierDays } = lifecycle;
  if (rawGlacierDays !== undefined && rawGlacierDays <= intelligentTieringDays) {
    throw new Error(
      `${scope.node.path}: lifecycle.rawGlacierDays (${rawGlacierDays}) must be greater than intelligentTieringDays (${intelligentTieringDays})`,
    );
  }
}
