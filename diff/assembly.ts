import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A synthesized cloud assembly (`cdk.out`) as the diff reads it: each stack's template, the
 * construct path of each logical ID, the cdk-nag acknowledgements recorded on the construct
 * tree, and the unacknowledged findings of the validation report. Plain data, no CDK classes,
 * so the comparison is a pure function of two of these.
 */
export interface Assembly {
  readonly stacks: StackArtifact[];
}

export interface StackArtifact {
  /** CloudFormation stack name. */
  readonly name: string;
  /** `team/stage` for a team stack, `platform account/region` for a shared one. */
  readonly group: string;
  readonly template: Template;
  /** Construct path (`stack/Construct/Resource`) of each logical ID, from the metadata. */
  readonly paths: Readonly<Record<string, string>>;
  readonly acknowledgements: Acknowledgement[];
  readonly findings: Finding[];
}

export interface Template {
  Resources?: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; [k: string]: unknown }
  >;
  [key: string]: unknown;
}

/** A cdk-nag rule acknowledged on a construct (and its subtree), with the reason given. */
export interface Acknowledgement {
  readonly rule: string;
  readonly path: string;
  readonly reason: string;
}

/** An unacknowledged finding of a validation plugin (cdk-nag) on a construct. */
export interface Finding {
  readonly rule: string;
  readonly path: string;
  readonly severity: string;
  readonly description: string;
}

const ACKNOWLEDGED_RULES = 'aws:cdk:acknowledged-rules';
const LOGICAL_ID = 'aws:cdk:logicalId';
const VALIDATION_REPORT = 'validation-report.json';

interface MetadataEntry {
  type: string;
  data?: unknown;
}

interface ManifestArtifact {
  type: string;
  displayName?: string;
  environment?: string;
  properties?: { templateFile?: string; stackName?: string; tags?: Record<string, string> };
  metadata?: Record<string, MetadataEntry[]>;
  additionalMetadataFile?: string;
}

/** Copies what the diff reads of an assembly (its JSON files, not its assets) to `dest`. */
export function copyAssemblyFiles(source: string, dest: string): void {
  fs.mkdirSync(dest, { recursive: true });
  for (const f of fs.readdirSync(source)) {
    if (f.endsWith('.json')) fs.copyFileSync(path.join(source, f), path.join(dest, f));
  }
}

/** Reads a `cdk.out` folder. Throws with the file when it is not a cloud assembly. */
export function loadAssembly(dir: string): Assembly {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) {
    throw new Error(`${dir} is not a cloud assembly (no manifest.json)`);
  }
  const manifest = readJson(manifestFile) as { artifacts?: Record<string, ManifestArtifact> };
  const findings = readFindings(path.join(dir, VALIDATION_REPORT));
  const stacks: StackArtifact[] = [];
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack' || !artifact.properties?.templateFile)
      continue;
    const name = artifact.properties.stackName ?? artifact.displayName ?? id;
    const metadata = artifact.additionalMetadataFile
      ? (readJson(path.join(dir, artifact.additionalMetadataFile)) as Record<
          string,
          MetadataEntry[]
        >)
      : (artifact.metadata ?? {});
    const paths: Record<string, string> = {};
    const acknowledgements: Acknowledgement[] = [];
    for (const [key, entries] of Object.entries(metadata)) {
      const constructPath = key.replace(/^\//, '');
      for (const entry of entries) {
        if (entry.type === LOGICAL_ID && typeof entry.data === 'string') {
          paths[entry.data] = constructPath;
        } else if (
          entry.type === ACKNOWLEDGED_RULES &&
          entry.data &&
          typeof entry.data === 'object'
        ) {
          for (const [rule, reason] of Object.entries(entry.data)) {
            acknowledgements.push({
              rule: rule.replace(/^annotation::/i, ''),
              path: constructPath,
              reason: String(reason),
            });
          }
        }
      }
    }
    stacks.push({
      name,
      group: stackGroup(artifact),
      template: readJson(path.join(dir, artifact.properties.templateFile)) as Template,
      paths,
      acknowledgements,
      findings: findings.filter((f) => f.path === id || f.path.startsWith(`${id}/`)),
    });
  }
  stacks.sort((a, b) => a.name.localeCompare(b.name));
  return { stacks };
}

/** Team stacks carry the team and stage tags (lib/naming.ts); everything else is shared. */
function stackGroup(artifact: ManifestArtifact): string {
  const tags = artifact.properties?.tags ?? {};
  const team = tags['ml-platform:team'];
  const stage = tags['ml-platform:stage'];
  if (team && stage) return `${team}/${stage}`;
  const env = artifact.environment?.replace(/^aws:\/\//, '') ?? 'unknown environment';
  return `platform ${env}`;
}

function readFindings(file: string): Finding[] {
  if (!fs.existsSync(file)) return [];
  const report = readJson(file) as {
    pluginReports?: {
      violations?: {
        ruleName: string;
        description?: string;
        severity?: string;
        violatingConstructs?: { constructPath?: string }[];
        violatingResources?: { constructPath?: string }[];
      }[];
    }[];
  };
  const findings: Finding[] = [];
  for (const plugin of report.pluginReports ?? []) {
    for (const v of plugin.violations ?? []) {
      const where = v.violatingConstructs ?? v.violatingResources ?? [];
      for (const c of where) {
        findings.push({
          rule: v.ruleName,
          path: (c.constructPath ?? '').replace(/^\//, ''),
          severity: v.severity ?? 'error',
          description: v.description ?? '',
        });
      }
    }
  }
  return findings;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}
