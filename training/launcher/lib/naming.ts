/** `<team>-<what>-<yyyymmdd-hhmmss>`, cut to AWS's name limit (63 for jobs, 32 for tuning jobs). */
export function jobName(team: string, what: string, now: Date, maxLength = 63): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const suffix = `-${stamp}`;
  const head = `${team}-${what}`.slice(0, maxLength - suffix.length).replace(/-+$/, '');
  return `${head}${suffix}`;
}
