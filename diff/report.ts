import type { Assembly, StackArtifact } from './assembly';
import { diffCapacity, type CapacityChange } from './capacity';
import { diffCloudFormation, type CloudFormationDiff } from './cloudformation';
import { diffHelm, diffKubernetes, type HelmChange, type KubernetesChange } from './kubernetes';
import { diffSecurity, isEmptySecurityDelta, type SecurityDelta } from './security';

/** What the comment calls each side, e.g. `main (3f2a1bc)` and `working tree`. */
export interface Sides {
  readonly base: string;
  readonly head: string;
}

export interface StackDiff {
  readonly stack: string;
  readonly group: string;
  readonly status: 'added' | 'removed' | 'modified';
  readonly cloudformation: CloudFormationDiff;
  readonly kubernetes: KubernetesChange[];
  readonly helm: HelmChange[];
  readonly security: SecurityDelta;
  readonly capacity: CapacityChange[];
}

/** A stateful resource that the change replaces or deletes: data or a cluster is at stake. */
export interface StatefulRisk {
  readonly stack: string;
  readonly logicalId: string;
  readonly path?: string;
  readonly type: string;
  readonly change: 'replaced' | 'removed';
  /** For a replacement, the properties that cause it. */
  readonly causes: string[];
  /** A removed resource with DeletionPolicy Retain stays in the account, out of the stack. */
  readonly retained: boolean;
}

export interface DiffSummary {
  readonly stacksChanged: number;
  readonly resourcesAdded: number;
  readonly resourcesRemoved: number;
  readonly resourcesModified: number;
  readonly resourcesReplaced: number;
  readonly statefulRisks: number;
  readonly iamWidened: number;
  readonly securityGroupsWidened: number;
  readonly kubernetesObjectsChanged: number;
  readonly helmReleasesChanged: number;
  readonly newFindings: number;
  readonly resolvedFindings: number;
  readonly acknowledgementsAdded: number;
  readonly acknowledgementsRemoved: number;
  readonly capacityChanges: number;
}

export interface DiffReport {
  readonly sides: Sides;
  readonly summary: DiffSummary;
  readonly stateful: StatefulRisk[];
  /** Only stacks with a change, sorted by group then name. */
  readonly stacks: StackDiff[];
  readonly unchangedStacks: string[];
}

/**
 * Compares two synthesized assemblies, stack by stack (matched by stack name). A pure
 * function: the same two assemblies always give the same report.
 */
export function diffAssemblies(base: Assembly, head: Assembly, sides: Sides): DiffReport {
  const from = new Map(base.stacks.map((s) => [s.name, s]));
  const to = new Map(head.stacks.map((s) => [s.name, s]));
  const names = [...new Set([...from.keys(), ...to.keys()])];
  const stacks: StackDiff[] = [];
  const unchangedStacks: string[] = [];
  for (const name of names) {
    const d = diffStack(from.get(name), to.get(name));
    if (d) stacks.push(d);
    else unchangedStacks.push(name);
  }
  stacks.sort((a, b) => a.group.localeCompare(b.group) || a.stack.localeCompare(b.stack));
  unchangedStacks.sort();
  const stateful = stacks.flatMap((s) =>
    s.cloudformation.resources
      .filter((r) => r.stateful && (r.change === 'replaced' || r.change === 'removed'))
      .map((r): StatefulRisk => ({
        stack: s.stack,
        logicalId: r.logicalId,
        ...(r.path ? { path: r.path } : {}),
        type: r.type,
        change: r.change === 'replaced' ? 'replaced' : 'removed',
        causes: r.replacedBy,
        retained: r.retained ?? false,
      })),
  );
  return { sides, summary: summarize(stacks, stateful), stateful, stacks, unchangedStacks };
}

function diffStack(
  base: StackArtifact | undefined,
  head: StackArtifact | undefined,
): StackDiff | undefined {
  const cloudformation = diffCloudFormation(base, head);
  const kubernetes = diffKubernetes(base, head);
  const helm = diffHelm(base, head);
  const security = diffSecurity(base, head);
  const capacity = diffCapacity(base, head);
  const changed =
    !base ||
    !head ||
    cloudformation.resources.length > 0 ||
    cloudformation.other.length > 0 ||
    kubernetes.length > 0 ||
    helm.length > 0 ||
    !isEmptySecurityDelta(security) ||
    capacity.length > 0;
  if (!changed) return undefined;
  const stack = (head ?? base) as StackArtifact;
  return {
    stack: stack.name,
    group: stack.group,
    status: !base ? 'added' : !head ? 'removed' : 'modified',
    cloudformation,
    kubernetes,
    helm,
    security,
    capacity,
  };
}

function summarize(stacks: StackDiff[], stateful: StatefulRisk[]): DiffSummary {
  const count = (f: (s: StackDiff) => number) => stacks.reduce((n, s) => n + f(s), 0);
  const resources = (kind: string) => (s: StackDiff) =>
    s.cloudformation.resources.filter((r) => r.change === kind).length;
  return {
    stacksChanged: stacks.length,
    resourcesAdded: count(resources('added')),
    resourcesRemoved: count(resources('removed')),
    resourcesModified: count(resources('modified')),
    resourcesReplaced: count(resources('replaced')),
    statefulRisks: stateful.length,
    iamWidened: count((s) => s.cloudformation.iam.filter((x) => x.widens).length),
    securityGroupsWidened: count(
      (s) => s.cloudformation.securityGroups.filter((x) => x.widens).length,
    ),
    kubernetesObjectsChanged: count((s) => s.kubernetes.length),
    helmReleasesChanged: count((s) => s.helm.length),
    newFindings: count((s) => s.security.newFindings.length),
    resolvedFindings: count((s) => s.security.resolvedFindings.length),
    acknowledgementsAdded: count((s) => s.security.newAcknowledgements.length),
    acknowledgementsRemoved: count((s) => s.security.removedAcknowledgements.length),
    capacityChanges: count((s) => s.capacity.length),
  };
}

/** `--fail-on-replace`: exit status 3 when a stateful resource would be replaced or deleted. */
export const EXIT_STATEFUL_RISK = 3;
