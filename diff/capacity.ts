import type { StackArtifact } from './assembly';
import { isObject } from './fields';
import { kubernetesObjects } from './kubernetes';

/** One capacity or cost figure of a stack, e.g. `inference max replicas × CPU requests`. */
export interface CapacityFigure {
  readonly metric: string;
  readonly value: number | string;
  readonly unit?: string;
}

export interface CapacityChange {
  readonly metric: string;
  readonly unit?: string;
  /** Absent on the side that does not have it. */
  readonly from?: number | string;
  readonly to?: number | string;
  /** `to − from` when both are numbers. */
  readonly delta?: number;
}

/**
 * The figures a reviewer weighs for cost and blast radius: node groups (instance types and
 * sizes), Batch vCPUs, each autoscaled workload at its max replicas times its pod requests,
 * the namespace quota (GPUs included), and the monthly budget.
 */
export function capacityFigures(stack: StackArtifact): CapacityFigure[] {
  const figures: CapacityFigure[] = [];
  for (const [logicalId, r] of Object.entries(stack.template.Resources ?? {})) {
    const p = r.Properties ?? {};
    const label = shortPath(stack.paths[logicalId] ?? logicalId);
    if (r.Type === 'AWS::EKS::Nodegroup') {
      const scaling = isObject(p.ScalingConfig) ? p.ScalingConfig : {};
      const types = Array.isArray(p.InstanceTypes) ? p.InstanceTypes.join(', ') : 'default';
      figures.push({ metric: `node group ${label}: instance types`, value: types });
      figures.push({
        metric: `node group ${label}: capacity type`,
        value: String(p.CapacityType ?? 'ON_DEMAND'),
      });
      for (const k of ['MinSize', 'MaxSize'] as const) {
        if (typeof scaling[k] === 'number') {
          figures.push({
            metric: `node group ${label}: ${k === 'MinSize' ? 'min' : 'max'} nodes`,
            value: scaling[k],
          });
        }
      }
    } else if (r.Type === 'AWS::Batch::ComputeEnvironment') {
      const cr = isObject(p.ComputeResources) ? p.ComputeResources : {};
      if (typeof cr.MaxvCpus === 'number') {
        figures.push({ metric: `batch ${label}: max vCPUs`, value: cr.MaxvCpus });
      }
      if (Array.isArray(cr.InstanceTypes)) {
        figures.push({
          metric: `batch ${label}: instance types`,
          value: cr.InstanceTypes.join(', '),
        });
      }
    } else if (r.Type === 'AWS::Budgets::Budget') {
      const budget = isObject(p.Budget) ? p.Budget : {};
      const limit = isObject(budget.BudgetLimit) ? budget.BudgetLimit : {};
      if (typeof limit.Amount === 'number') {
        figures.push({
          metric: `budget ${label}: ${String(budget.TimeUnit ?? 'MONTHLY').toLowerCase()}`,
          value: limit.Amount,
          unit: String(limit.Unit ?? 'USD'),
        });
      }
    }
  }
  figures.push(...kubernetesFigures(stack));
  return figures;
}

function kubernetesFigures(stack: StackArtifact): CapacityFigure[] {
  const objects = kubernetesObjects(stack);
  const figures: CapacityFigure[] = [];
  for (const { manifest } of objects.values()) {
    const meta = isObject(manifest.metadata) ? manifest.metadata : {};
    const ns = String(meta.namespace ?? 'default');
    const spec = isObject(manifest.spec) ? manifest.spec : {};
    if (manifest.kind === 'HorizontalPodAutoscaler') {
      const target = isObject(spec.scaleTargetRef) ? spec.scaleTargetRef : {};
      const workload = objects.get(`${String(target.kind)}/${ns}/${String(target.name)}`);
      const name = `${ns}/${String(target.name)}`;
      const max = Number(spec.maxReplicas);
      figures.push({ metric: `${name}: min replicas`, value: Number(spec.minReplicas ?? 1) });
      figures.push({ metric: `${name}: max replicas`, value: max });
      if (!workload) continue;
      const requests = podRequests(workload.manifest);
      figures.push({
        metric: `${name}: max replicas × CPU requests`,
        value: round(max * requests.cpu),
        unit: 'vCPU',
      });
      figures.push({
        metric: `${name}: max replicas × memory requests`,
        value: round(max * requests.memoryGiB),
        unit: 'GiB',
      });
      figures.push({
        metric: `${name}: max replicas × GPU requests`,
        value: max * requests.gpu,
        unit: 'GPU',
      });
    } else if (manifest.kind === 'ResourceQuota') {
      const hard = isObject(spec.hard) ? spec.hard : {};
      const quota = `${ns} quota`;
      if (hard['requests.cpu'] !== undefined)
        figures.push({
          metric: `${quota}: CPU requests`,
          value: round(cpu(hard['requests.cpu'])),
          unit: 'vCPU',
        });
      if (hard['requests.memory'] !== undefined)
        figures.push({
          metric: `${quota}: memory requests`,
          value: round(memoryGiB(hard['requests.memory'])),
          unit: 'GiB',
        });
      if (hard['requests.nvidia.com/gpu'] !== undefined)
        figures.push({
          metric: `${quota}: GPUs`,
          value: Number(hard['requests.nvidia.com/gpu']),
          unit: 'GPU',
        });
    }
  }
  return figures.sort((a, b) => a.metric.localeCompare(b.metric));
}

/** The requests of one pod of a workload: the sum over its containers. */
function podRequests(workload: Record<string, unknown>): {
  cpu: number;
  memoryGiB: number;
  gpu: number;
} {
  const spec = isObject(workload.spec) ? workload.spec : {};
  const template = isObject(spec.template) ? spec.template : {};
  const podSpec = isObject(template.spec) ? template.spec : {};
  const containers = Array.isArray(podSpec.containers) ? podSpec.containers : [];
  const total = { cpu: 0, memoryGiB: 0, gpu: 0 };
  for (const c of containers) {
    const resources = isObject(c) && isObject(c.resources) ? c.resources : {};
    const requests = isObject(resources.requests) ? resources.requests : {};
    const limits = isObject(resources.limits) ? resources.limits : {};
    total.cpu += cpu(requests.cpu ?? 0);
    total.memoryGiB += memoryGiB(requests.memory ?? 0);
    // Extended resources such as GPUs are requested through their limit.
    total.gpu += Number(requests['nvidia.com/gpu'] ?? limits['nvidia.com/gpu'] ?? 0);
  }
  return total;
}

/** Kubernetes CPU quantity (`500m`, `2`) in cores. */
export function cpu(q: unknown): number {
  const s = String(q);
  return s.endsWith('m') ? Number(s.slice(0, -1)) / 1000 : Number(s);
}

const MEMORY_UNITS: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  '': 1,
};

/** Kubernetes memory quantity (`512Mi`, `2Gi`, `1G`, bytes) in GiB. */
export function memoryGiB(q: unknown): number {
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(String(q));
  if (!m || MEMORY_UNITS[m[2]] === undefined) return NaN;
  return (Number(m[1]) * MEMORY_UNITS[m[2]]) / 2 ** 30;
}

export function diffCapacity(
  base: StackArtifact | undefined,
  head: StackArtifact | undefined,
): CapacityChange[] {
  const from = new Map((base ? capacityFigures(base) : []).map((f) => [f.metric, f]));
  const to = new Map((head ? capacityFigures(head) : []).map((f) => [f.metric, f]));
  const metrics = [...new Set([...from.keys(), ...to.keys()])].sort();
  const changes: CapacityChange[] = [];
  for (const metric of metrics) {
    const a = from.get(metric);
    const b = to.get(metric);
    if (a && b && a.value === b.value) continue;
    const unit = b?.unit ?? a?.unit;
    changes.push({
      metric,
      ...(unit ? { unit } : {}),
      ...(a ? { from: a.value } : {}),
      ...(b ? { to: b.value } : {}),
      ...(typeof a?.value === 'number' && typeof b?.value === 'number'
        ? { delta: round(b.value - a.value) }
        : {}),
    });
  }
  return changes;
}

/** A construct path without its stack and the `Resource` leaf, e.g. `Serving/Nodegroup/CpuNodes`. */
function shortPath(p: string): string {
  return (
    p
      .split('/')
      .slice(1)
      .filter((s) => s !== 'Resource')
      .join('/') || p
  );
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
