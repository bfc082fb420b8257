import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** What the installed aws-cdk-lib asks of the bootstrap stack of an environment. */
export interface BootstrapRequirement {
  /** The lowest bootstrap version its stacks deploy with (the CheckBootstrapVersion rule). */
  readonly minimumVersion: number;
  /** The SSM parameter deploys read the version from: `/cdk-bootstrap/<qualifier>/version`. */
  readonly versionParameter: string;
}

let cached: BootstrapRequirement | undefined;

/**
 * Asks the installed aws-cdk-lib itself, rather than a copy of its constants: synthesizes an
 * empty stack with the app's synthesizer settings (cdk.json context, e.g. a custom
 * bootstrap qualifier) and reads the requirement from the cloud assembly.
 */
export async function bootstrapRequirement(cdkJson = 'cdk.json'): Promise<BootstrapRequirement> {
  if (cached) return cached;
  const { App, CfnWaitConditionHandle, Stack } = await import('aws-cdk-lib');
  let context: Record<string, unknown> = {};
  try {
    context =
      (JSON.parse(readFileSync(cdkJson, 'utf8')) as { context?: Record<string, unknown> })
        .context ?? {};
  } catch {
    // no cdk.json here: aws-cdk-lib's defaults
  }
  const outdir = mkdtempSync(path.join(tmpdir(), 'mlp-doctor-'));
  try {
    const app = new App({ outdir, context });
    const stack = new Stack(app, 'BootstrapProbe', {
      env: { account: '111111111111', region: 'us-east-1' },
    });
    new CfnWaitConditionHandle(stack, 'Probe');
    const artifact = app.synth().getStackByName(stack.stackName);
    if (!artifact.requiresBootstrapStackVersion || !artifact.bootstrapStackVersionSsmParameter) {
      throw new Error('aws-cdk-lib did not report a bootstrap requirement');
    }
    cached = {
      minimumVersion: artifact.requiresBootstrapStackVersion,
      versionParameter: artifact.bootstrapStackVersionSsmParameter,
    };
    return cached;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
