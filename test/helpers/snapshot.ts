import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

/**
 * A stack's template for a review snapshot: asset hashes (which change with any byte of an
 * asset or a CDK upgrade) are masked so the snapshot shows only infrastructure changes.
 */
export function reviewTemplate(stack: Stack): unknown {
  const json = JSON.stringify(Template.fromStack(stack).toJSON());
  return JSON.parse(json.replace(/[0-9a-f]{64}/g, '<asset-hash>'));
}
