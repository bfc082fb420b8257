import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as path from 'node:path';

/**
 * What every TypeScript Lambda of the platform shares (the API-key rotation, the registry
 * approval and the retraining steps): the runtime, the newest Node.js Lambda offers in the
 * installed aws-cdk-lib, and the repository root, whose package-lock.json and esbuild
 * bundle them.
 */
export const NODE_LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;

export const REPO_ROOT = path.join(__dirname, '..', '..');

/** `projectRoot` and `depsLockFilePath` of every such function. */
export const NODE_LAMBDA_PROJECT = {
  projectRoot: REPO_ROOT,
  depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
} as const;

/**
 * How each is bundled: by esbuild from the repository's devDependencies, never in a Docker
 * image; CommonJS for NODE_LAMBDA_RUNTIME; the AWS SDK v3 left to the runtime, which ships it.
 * Not minified, so that a stack trace in the logs names the code's own functions (no source
 * map is shipped); esbuild's size summary on every synth is noise, warnings and errors show.
 */
export const NODE_LAMBDA_BUNDLING: nodejs.BundlingOptions & { readonly externalModules: string[] } =
  {
    forceDockerBundling: false,
    externalModules: ['@aws-sdk/*'],
    format: nodejs.OutputFormat.CJS,
    target: 'node24',
    minify: false,
    sourceMap: false,
    logLevel: nodejs.LogLevel.WARNING,
  };
