import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';

/**
 * Lets CloudWatch Logs of the key's region encrypt log groups with `key`, limited by the
 * encryption context to the log groups `logGroupArnPattern` matches (one group, or
 * `arn:...:logs:<region>:<account>:*` for the account's groups).
 */
export function allowLogsToUseKey(
  scope: IConstruct,
  key: kms.IKey,
  logGroupArnPattern: string,
  sid?: string,
): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid,
      principals: [new iam.ServicePrincipal(`logs.${Stack.of(scope).region}.amazonaws.com`)],
      actions: [
        'kms:Encrypt*',
        'kms:Decrypt*',
        'kms:ReEncrypt*',
        'kms:GenerateDataKey*',
        'kms:Describe*',
      ],
      // In a key policy, "*" is the key itself.
      resources: ['*'],
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': logGroupArnPattern } },
    }),
  );
}
