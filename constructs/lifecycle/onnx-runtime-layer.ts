import { cpSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/** The module the layer provides: functions that take the layer bundle it as an external. */
export const ONNX_RUNTIME_MODULE = 'onnxruntime-node';

/** The inference service's ONNX Runtime: the version the service and `npm run model` verify with. */
const SERVING_MODULES = path.join(__dirname, '..', '..', 'serving', 'node_modules');
const ORT = path.join(SERVING_MODULES, ONNX_RUNTIME_MODULE);

/** onnxruntime-node's folder of native binaries (bin/napi-v6/linux/<dir>) per Lambda architecture. */
const BINARIES: Record<string, string> = {
  [lambda.Architecture.ARM_64.name]: 'arm64',
  [lambda.Architecture.X86_64.name]: 'x64',
};

export interface OnnxRuntimeLayerProps {
  /**
   * The architecture of the functions that take the layer: only its native binaries are in it.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
}

/**
 * ONNX Runtime for Node.js on Lambda, as a layer: `onnxruntime-node` (its JavaScript and only
 * the native binding of one architecture, about 25 MB) and `onnxruntime-common`, copied from
 * the serving package at synth by local bundling (no Docker), under `nodejs/node_modules/`,
 * where Lambda's Node.js runtimes resolve modules (/opt/nodejs/node_modules). Functions that
 * verify a bundle with the service's own code bundle with ONNX_RUNTIME_MODULE external and
 * take this layer.
 *
 * The asset hash is the package version and architecture, so a synth never re-hashes 300 MB
 * of binaries.
 */
export class OnnxRuntimeLayer extends Construct {
  readonly layer: lambda.LayerVersion;

  constructor(scope: Construct, id: string, props: OnnxRuntimeLayerProps = {}) {
    super(scope, id);
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const binaries = BINARIES[architecture.name];
    if (!binaries)
      throw new Error(
        `${this.node.path}: architecture ${architecture.name} has no ONNX Runtime binaries; use ${Object.keys(BINARIES).join(' or ')}`,
      );
    const version = (
      JSON.parse(readFileSync(path.join(ORT, 'package.json'), 'utf8')) as { version: string }
    ).version;
    this.layer = new lambda.LayerVersion(this, 'Resource', {
      description: `onnxruntime-node ${version} (linux ${binaries}) for bundle verification`,
      compatibleArchitectures: [architecture],
      code: lambda.Code.fromAsset(ORT, {
        assetHashType: AssetHashType.CUSTOM,
        assetHash: `onnxruntime-node-${version}-linux-${binaries}`,
        bundling: {
          // Required by the type; local bundling always succeeds, so it is never pulled.
          image: DockerImage.fromRegistry('public.ecr.aws/docker/library/busybox:stable'),
          local: {
            tryBundle(outputDir: string) {
              const modules = path.join(outputDir, 'nodejs', 'node_modules');
              const ort = path.join(modules, ONNX_RUNTIME_MODULE);
              for (const part of [
                'package.json',
                'dist',
                path.join('bin', 'napi-v6', 'linux', binaries),
              ])
                cpSync(path.join(ORT, part), path.join(ort, part), { recursive: true });
              cpSync(
                path.join(SERVING_MODULES, 'onnxruntime-common'),
                path.join(modules, 'onnxruntime-common'),
                {
                  recursive: true,
                },
              );
              return true;
            },
          },
        },
      }),
    });
  }
}
