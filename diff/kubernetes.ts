import type { StackArtifact } from './assembly';
import { fieldChanges, isObject, type FieldChange } from './fields';

/** The resource types through which aws-eks applies manifests and Helm charts. */
export const KUBERNETES_RESOURCE = 'Custom::AWSCDK-EKS-KubernetesResource';
export const HELM_CHART = 'Custom::AWSCDK-EKS-HelmChart';

/** A Kubernetes object as a stack applies it, keyed `Kind/namespace/name`. */
export interface KubernetesObject {
  readonly key: string;
  readonly manifest: Record<string, unknown>;
}

export interface KubernetesChange {
  /** `Kind/namespace/name` (`Kind/name` for cluster-scoped objects). */
  readonly object: string;
  readonly change: 'added' | 'removed' | 'modified';
  readonly fields: FieldChange[];
}

export interface HelmRelease {
  readonly key: string;
  readonly chart: string;
  readonly version?: string;
  readonly repository?: string;
  readonly values: unknown;
}

export interface HelmChange {
  /** `namespace/release`. */
  readonly release: string;
  readonly change: 'added' | 'removed' | 'modified';
  readonly fields: FieldChange[];
}

/**
 * Labels that aws-eks adds for pruning: they name the construct, not the object's behaviour,
 * and would show every object as changed when a construct moves.
 */
const PRUNE_LABEL = /^aws\.cdk\.eks\/prune-/;

/** Every Kubernetes object the stack's manifest resources apply. */
export function kubernetesObjects(stack: StackArtifact): Map<string, KubernetesObject> {
  const objects = new Map<string, KubernetesObject>();
  for (const resource of Object.values(stack.template.Resources ?? {})) {
    if (resource.Type !== KUBERNETES_RESOURCE) continue;
    const parsed = parseJsonProperty(resource.Properties?.Manifest);
    for (const manifest of Array.isArray(parsed) ? parsed : [parsed]) {
      if (!isObject(manifest)) continue;
      const key = objectKey(manifest);
      objects.set(key, { key, manifest: withoutPruneLabels(manifest) });
    }
  }
  return objects;
}

export function helmReleases(stack: StackArtifact): Map<string, HelmRelease> {
  const releases = new Map<string, HelmRelease>();
  for (const resource of Object.values(stack.template.Resources ?? {})) {
    if (resource.Type !== HELM_CHART) continue;
    const p = resource.Properties ?? {};
    const key = `${String(p.Namespace ?? 'default')}/${String(p.Release ?? p.Chart)}`;
    releases.set(key, {
      key,
      chart: String(p.Chart),
      version: p.Version === undefined ? undefined : String(p.Version),
      repository: p.Repository === undefined ? undefined : renderIntrinsics(p.Repository),
      values: p.Values === undefined ? {} : parseJsonProperty(p.Values),
    });
  }
  return releases;
}

export function diffKubernetes(
  base: StackArtifact | undefined,
  head: StackArtifact | undefined,
): KubernetesChange[] {
  const from = base ? kubernetesObjects(base) : new Map<string, KubernetesObject>();
  const to = head ? kubernetesObjects(head) : new Map<string, KubernetesObject>();
  return keyedChanges(from, to, (o) => o.manifest).map(([object, change, fields]) => ({
    object,
    change,
    fields,
  }));
}

export function diffHelm(
  base: StackArtifact | undefined,
  head: StackArtifact | undefined,
): HelmChange[] {
  const from = base ? helmReleases(base) : new Map<string, HelmRelease>();
  const to = head ? helmReleases(head) : new Map<string, HelmRelease>();
  const view = (r: HelmRelease) => ({
    chart: r.chart,
    version: r.version,
    repository: r.repository,
    values: r.values,
  });
  return keyedChanges(from, to, view).map(([release, change, fields]) => ({
    release,
    change,
    fields,
  }));
}

function keyedChanges<T>(
  from: Map<string, T>,
  to: Map<string, T>,
  view: (t: T) => unknown,
): [string, 'added' | 'removed' | 'modified', FieldChange[]][] {
  const keys = [...new Set([...from.keys(), ...to.keys()])].sort();
  const out: [string, 'added' | 'removed' | 'modified', FieldChange[]][] = [];
  for (const key of keys) {
    const a = from.get(key);
    const b = to.get(key);
    if (a === undefined) out.push([key, 'added', []]);
    else if (b === undefined) out.push([key, 'removed', []]);
    else {
      const fields = fieldChanges(view(a), view(b));
      if (fields.length > 0) out.push([key, 'modified', fields]);
    }
  }
  return out;
}

function objectKey(manifest: Record<string, unknown>): string {
  const meta = isObject(manifest.metadata) ? manifest.metadata : {};
  const parts = [String(manifest.kind ?? 'Unknown')];
  if (meta.namespace !== undefined) parts.push(String(meta.namespace));
  parts.push(String(meta.name ?? '?'));
  return parts.join('/');
}

function withoutPruneLabels(manifest: Record<string, unknown>): Record<string, unknown> {
  const meta = manifest.metadata;
  if (!isObject(meta) || !isObject(meta.labels)) return manifest;
  const labels = Object.fromEntries(
    Object.entries(meta.labels).filter(([k]) => !PRUNE_LABEL.test(k)),
  );
  return { ...manifest, metadata: { ...meta, labels } };
}

/**
 * A template property that holds JSON text, often as an `Fn::Join` around references (the
 * manifest names the image, the role, the bucket). References become `${LogicalId}` or
 * `${LogicalId.Attribute}` inside the text, which keeps it valid JSON.
 */
export function parseJsonProperty(value: unknown): unknown {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' && isObject(value) && !isIntrinsic(value)) return value;
  const text = renderIntrinsics(value);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** CloudFormation intrinsics rendered as text, as `cdk diff` shows them. */
export function renderIntrinsics(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(renderIntrinsics).join(',');
  if (!isObject(value)) return String(value);
  if ('Ref' in value) return `\${${String(value.Ref)}}`;
  const getAtt = value['Fn::GetAtt'];
  if (getAtt !== undefined) {
    return `\${${Array.isArray(getAtt) ? getAtt.map(String).join('.') : String(getAtt)}}`;
  }
  const join = value['Fn::Join'];
  if (Array.isArray(join) && Array.isArray(join[1])) {
    return join[1].map(renderIntrinsics).join(String(join[0]));
  }
  const sub = value['Fn::Sub'];
  if (sub !== undefined) return Array.isArray(sub) ? String(sub[0]) : String(sub);
  const [fn] = Object.keys(value);
  return `\${${fn}}`;
}

function isIntrinsic(value: Record<string, unknown>): boolean {
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'));
}
