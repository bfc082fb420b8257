/* eslint-disable @typescript-eslint/no-explicit-any -- fixtures edit raw template JSON */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copyAssemblyFiles } from '../../diff/assembly';
import { buildApp, servingTeamConfig } from '../helpers/teams';

/** The team of the fixture assembly: one team stack and its platform stack. */
export const TEAM_STACK = 'mlp-alpha-dev';
export const PLATFORM_STACK = 'mlp-platform-111111111111-eu-west-1';

/**
 * One real synth (the whole app with cdk-nag, for one team), done once per test file: fixture
 * pairs are copies of it with one template edited, so each case costs milliseconds.
 */
export function synthFixture(): string {
  const { app } = buildApp([servingTeamConfig()]);
  return app.synth().directory;
}

/** Copies the assembly's JSON files (not its assets) into `<root>/<name>`. */
export function copyAssembly(source: string, root: string, name: string): string {
  const dir = path.join(root, name);
  copyAssemblyFiles(source, dir);
  return dir;
}

export type Resources = Record<
  string,
  { Type: string; Properties: Record<string, any>; [k: string]: any }
>;

/** Edits one stack's template in an assembly folder. */
export function editTemplate(
  dir: string,
  stack: string,
  edit: (resources: Resources) => void,
): void {
  const file = path.join(dir, `${stack}.template.json`);
  const template = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(template.Resources);
  fs.writeFileSync(file, JSON.stringify(template, null, 1));
}

/** Edits the Kubernetes objects of the stack's manifest resource (kept as an Fn::Join). */
export function editManifests(dir: string, stack: string, edit: (objects: any[]) => void): void {
  editTemplate(dir, stack, (resources) => {
    const r = Object.values(resources).find(
      (x) => x.Type === 'Custom::AWSCDK-EKS-KubernetesResource',
    );
    if (!r) throw new Error(`${stack} has no manifest resource`);
    // Tokens become placeholders that survive a JSON round trip, then go back into the join.
    const tokens: unknown[] = [];
    const parts: unknown[] = r.Properties.Manifest['Fn::Join'][1];
    const text = parts
      .map((p) => (typeof p === 'string' ? p : `@@TOKEN${tokens.push(p) - 1}@@`))
      .join('');
    const objects = JSON.parse(text);
    edit(objects);
    const out: unknown[] = [];
    for (const piece of JSON.stringify(objects).split(/(@@TOKEN\d+@@)/)) {
      const m = /^@@TOKEN(\d+)@@$/.exec(piece);
      out.push(m ? tokens[Number(m[1])] : piece);
    }
    r.Properties.Manifest = { 'Fn::Join': ['', out] };
  });
}

export function findResource(
  resources: Resources,
  type: string,
  idPart: string,
): Resources[string] {
  const entry = Object.entries(resources).find(([id, r]) => r.Type === type && id.includes(idPart));
  if (!entry) throw new Error(`no ${type} with ${idPart} in its logical ID`);
  return entry[1];
}

export function tempRoot(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
