import { trainingJobNamePrefix } from '../../../lib/naming';

/**
 * `<team>-<stage>-<what>-<yyyymmdd-hhmmss>`, cut to AWS's name limit (63 for jobs, 32 for
 * tuning jobs). The `<team>-<stage>-` prefix is how the team's alarms find its jobs.
 */
export function jobName(
  team: { team: string; stage: string },
  what: string,
  now: Date,
  maxLength = 63,
): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const suffix = `-${stamp}`;
  const head = `${trainingJobNamePrefix(team)}${what}`
    .slice(0, maxLength - suffix.length)
    .replace(/-+$/, '');
  return `${head}${suffix}`;
}
