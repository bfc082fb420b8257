import * as path from 'node:path';
import { type Host, findExecutable, firstLine } from './host';
import type { CheckResult } from './result';

/** What `cdk deploy` builds image assets with: `$CDK_DOCKER`, or `docker`. */
export interface Builder {
  /** The command CDK runs (`docker`, `podman`, `finch` or a path). */
  readonly command: string;
  readonly kind: 'docker' | 'podman' | 'finch' | 'other';
  readonly executable: string;
}

const KNOWN = ['docker', 'podman', 'finch'] as const;

function kindOf(command: string): Builder['kind'] {
  const name = path.basename(command);
  return (KNOWN as readonly string[]).includes(name) ? (name as Builder['kind']) : 'other';
}

/**
 * The container builder check: the program CDK will run is on PATH, and it can build
 * `linux/amd64` images (the platform of the serving and trainer image assets).
 */
export async function checkBuilder(
  host: Host,
): Promise<{ builder?: Builder; result: CheckResult }> {
  const check = 'container builder';
  const command = host.env.CDK_DOCKER || 'docker';
  const executable = findExecutable(command, host.env.PATH);
  if (!executable) {
    const present = KNOWN.filter((name) => name !== command && findExecutable(name, host.env.PATH));
    if (present.length > 0) {
      return {
        result: {
          check,
          ok: false,
          detail: `CDK builds image assets with \`${command}\`, which is not on PATH; ${present.join(', ')} is`,
          fix: `export CDK_DOCKER=${present[0]}`,
        },
      };
    }
    return {
      result: {
        check,
        ok: false,
        detail: `no container builder on PATH (CDK runs \`${command}\`; docker, podman and finch work)`,
        fix: 'install Docker with the buildx plugin, Podman or Finch (then `export CDK_DOCKER=podman` or `finch`)',
      },
    };
  }
  const builder: Builder = { command, kind: kindOf(command), executable };
  return { builder, result: await canBuildAmd64(host, builder) };
}

async function canBuildAmd64(host: Host, builder: Builder): Promise<CheckResult> {
  const check = 'container builder';
  const { command, executable } = builder;
  switch (builder.kind) {
    case 'docker': {
      const r = await host.exec(executable, ['buildx', 'ls']);
      if (r.code !== 0) {
        return {
          check,
          ok: false,
          detail: `\`docker buildx ls\` failed: ${firstLine(r.stderr || r.stdout)}`,
          fix: 'install the docker buildx plugin and start the Docker engine',
        };
      }
      if (!/linux\/amd64/.test(r.stdout)) {
        return {
          check,
          ok: false,
          detail: 'no docker buildx builder lists linux/amd64',
          fix: 'docker run --privileged --rm tonistiigi/binfmt --install amd64',
        };
      }
      return { check, ok: true, detail: `${command} (buildx builds linux/amd64)` };
    }
    case 'podman': {
      const r = await host.exec(executable, ['info', '--format', '{{.Host.Arch}}']);
      if (r.code !== 0) {
        return {
          check,
          ok: false,
          detail: `\`podman info\` failed: ${firstLine(r.stderr || r.stdout)}`,
          fix: 'podman machine start (macOS, Windows), or fix the podman installation',
        };
      }
      const arch = r.stdout.trim();
      if (arch === 'amd64') return { check, ok: true, detail: `${command} on amd64` };
      // Another architecture builds amd64 images through qemu user emulation.
      if (/^enabled/m.test(host.readFile('/proc/sys/fs/binfmt_misc/qemu-x86_64') ?? '')) {
        return { check, ok: true, detail: `${command} on ${arch}, amd64 through qemu emulation` };
      }
      return {
        check,
        ok: false,
        detail: `${command} runs on ${arch} and cannot emulate amd64 (no qemu-x86_64 binfmt handler)`,
        fix: 'sudo apt-get install qemu-user-static (on the podman host)',
      };
    }
    case 'finch': {
      const r = await host.exec(executable, ['version']);
      if (r.code !== 0) {
        return {
          check,
          ok: false,
          detail: `\`finch version\` failed: ${firstLine(r.stderr || r.stdout)}`,
          fix: 'finch vm start',
        };
      }
      return { check, ok: true, detail: `${command} (its VM builds linux/amd64, emulated on Arm)` };
    }
    case 'other':
      return {
        check,
        ok: true,
        detail: `${command} (CDK_DOCKER; linux/amd64 support not checked for this program)`,
      };
  }
}

/**
 * Whether the builder holds a login for `registry`: podman answers `login --get-login`;
 * docker and finch keep logins in a config.json (`auths`, a `credHelpers` entry, or the
 * `credsStore` helper, asked with `get`).
 */
export async function storedLogin(
  host: Host,
  builder: Builder,
  registry: string,
): Promise<{ ok: boolean; detail: string }> {
  if (builder.kind === 'podman') {
    const r = await host.exec(builder.executable, ['login', '--get-login', registry]);
    return r.code === 0
      ? { ok: true, detail: `${builder.command} is logged in to ${registry} as ${r.stdout.trim()}` }
      : { ok: false, detail: `${builder.command} is not logged in to ${registry}` };
  }
  const configDir =
    builder.kind === 'finch'
      ? path.join(host.homedir, '.finch')
      : (host.env.DOCKER_CONFIG ?? path.join(host.homedir, '.docker'));
  const configFile = path.join(configDir, 'config.json');
  let config: {
    auths?: Record<string, unknown>;
    credHelpers?: Record<string, string>;
    credsStore?: string;
  } = {};
  try {
    config = JSON.parse(host.readFile(configFile) ?? '{}');
  } catch {
    return { ok: false, detail: `${configFile} is not valid JSON` };
  }
  if (config.auths?.[registry] ?? config.auths?.[`https://${registry}`]) {
    return { ok: true, detail: `${builder.command} holds a login for ${registry} (${configFile})` };
  }
  const helper = config.credHelpers?.[registry];
  if (helper) {
    return { ok: true, detail: `${registry} uses docker-credential-${helper} (${configFile})` };
  }
  if (config.credsStore) {
    const store = `docker-credential-${config.credsStore}`;
    const r = await host.exec(findExecutable(store, host.env.PATH) ?? store, ['get'], registry);
    if (r.code === 0) {
      return { ok: true, detail: `${store} holds a login for ${registry}` };
    }
  }
  return { ok: false, detail: `${builder.command} holds no login for ${registry} (${configFile})` };
}
