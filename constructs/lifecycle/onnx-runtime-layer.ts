import { cpSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/** The inference service's ONNX Runtime: the version the service and `npm run model` verify with. */
const SERVING_MODULES = path.join(__dirname, '..', '..', 'serving', 'node_modules');
const ORT = path.join(SERVING_MODULES, 'onnxruntime-node');

/**
 * ONNX Runtime for Node.js on Lambda (arm64), as a layer: `onnxruntime-node` (its JavaScript
 * and only the linux/arm64 native binding, about 25 MB) and `onnxruntime-common`, copied from
 * the serving package at synth by local bundling (no Docker), under `nodejs/node_modules/`,
 * where Lambda's Node.js runtimes resolve modules. Functions that verify a bundle with the
 * service's own code bundle with `onnxruntime-node` external and take this layer.
 *
 * The asset hash is the package version, so a synth never re-hashes 300 MB of binaries.
 */
export class OnnxRuntimeLayer extends Construct {
  readonly layer: lambda.LayerVersion;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const version = (
      JSON.parse(readFileSync(path.join(ORT, 'package.json'), 'utf8')) as { version: string }
    ).version;
    this.layer = new lambda.LayerVersion(this, 'Resource', {
      description: `onnxruntime-node ${version} (linux arm64) for bundle verification`,
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      code: lambda.Code.fromAsset(ORT, {
        assetHashType: AssetHashType.CUSTOM,
        assetHash: `onnxruntime-node-${version}-linux-arm64`,
        bundling: {
          // Required by the type; local bundling always succeeds, so it is never pulled.
          image: DockerImage.fromRegistry('public.ecr.aws/docker/library/busybox:stable'),
          local: {
            tryBundle(outputDir: string) {
              const modules = path.join(outputDir, 'nodejs', 'node_modules');
              const ort = path.join(modules, 'onnxruntime-node');
              for (const part of [
                'package.json',
                'dist',
                path.join('bin', 'napi-v6', 'linux', 'arm64'),
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
