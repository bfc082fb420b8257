import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** The cgroup files that carry a container's CPU limit (v2 first, then v1). */
export const CGROUP_CPU_FILES = {
  v2Max: '/sys/fs/cgroup/cpu.max',
  v1Quota: '/sys/fs/cgroup/cpu/cpu.cfs_quota_us',
  v1Period: '/sys/fs/cgroup/cpu/cpu.cfs_period_us',
} as const;

/**
 * The CPU limit in cores from cgroup file contents, or undefined when there is none
 * (`max` in cgroup v2, -1 in v1) or the files are absent or unreadable.
 * v2 `cpu.max` is "<quota> <period>" (quota "max": no limit); v1 has the two numbers apart.
 */
export function cgroupCpuLimit(files: { v2Max?: string; v1Quota?: string; v1Period?: string }): number | undefined {
  const ratio = (quota: string | undefined, period: string | undefined): number | undefined => {
    if (quota === undefined || period === undefined) return undefined;
    const q = Number(quota.trim());
    const p = Number(period.trim());
    if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
    return q / p;
  };
  if (files.v2Max !== undefined) {
    const [quota, period] = files.v2Max.trim().split(/\s+/);
    return quota === 'max' ? undefined : ratio(quota, period ?? '100000');
  }
  return ratio(files.v1Quota, files.v1Period);
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The cores this process may use: the container's cgroup CPU limit, rounded up, capped at the
 * host's cores; without a limit, os.availableParallelism(). os.cpus() would count the node's
 * cores, not the pod's limit, and oversubscribe a 1-CPU pod on a 64-core node.
 */
export function containerCpus(read: (path: string) => string | undefined = readIfPresent, host = availableParallelism()): number {
  const limit = cgroupCpuLimit({
    v2Max: read(CGROUP_CPU_FILES.v2Max),
    v1Quota: read(CGROUP_CPU_FILES.v1Quota),
    v1Period: read(CGROUP_CPU_FILES.v1Period),
  });
  return limit === undefined ? host : Math.max(1, Math.min(host, Math.ceil(limit)));
}

/**
 * Inference worker threads for `cpus` cores: one per core but the one the event loop keeps for
 * HTTP, JSON, probes and metrics; at least one, so inference never runs on the event loop.
 */
export function workersFor(cpus: number): number {
  return Math.max(1, Math.ceil(cpus) - 1);
}
