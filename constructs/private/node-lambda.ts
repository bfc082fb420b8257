import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as path from 'node:path';

/**
 * What every TypeScript Lambda of the platform shares (the API-key rotation, the registry
 * approval and the retraining steps): the runtime, the newest Node.js Lambda offers in the
 * installed aws-cdk-lib, and the repository root, whose package-lock.json and esbuild
 * bundle them.
 */
export const NODE_LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;

export const REPO_ROOT = path.join(__dirname, '..', '..');
