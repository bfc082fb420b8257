import type { GateOutput, CheckOutput } from './steps';

/** How an execution ended (the notification's first line and the `outcome` field). */
export const OUTCOMES = {
  skipped: 'skipped: another execution is running',
  'first-model': 'promoted: the first model is production',
  'gate-rejected': 'not promoted: the candidate failed the gate',
  'approval-rejected': 'not promoted: the package was rejected in the registry',
  'approval-timeout': 'not promoted: no registry approval in time',
  promoted: 'promoted: the candidate is production',
  'rolled-back': 'rolled back: the canary did not hold',
  failed: 'failed: nothing was promoted, production is unchanged',
} as const;
export type Outcome = keyof typeof OUTCOMES;

/** What the state machine hands the notify step: its state so far. */
export interface ExecutionRecord {
  readonly outcome: Outcome;
  readonly executionArn: string;
  readonly trigger?: string;
  readonly lock?: { readonly holder?: string };
  readonly gate?: GateOutput;
  readonly publish?: { readonly version: string; readonly packageArn: string };
  /** A manual stage's registry approval (SendTaskSuccess's output). */
  readonly approval?: { readonly approvedBy?: string | null };
  /** Why the wait for approval ended otherwise: a rejection, or the timeout. */
  readonly approvalError?: { readonly Error?: string; readonly Cause?: string };
  readonly check?: CheckOutput;
  readonly rollback?: { readonly from: string; readonly to: string };
  /** A caught error: Step Functions' {Error, Cause}. */
  readonly error?: { readonly Error?: string; readonly Cause?: string };
}

const pct = (v: number) => `${Number((v * 100).toPrecision(3))}%`;
const num = (v: number | undefined) =>
  v === undefined ? '-' : Number(v.toPrecision(4)).toString();

/** The error's message: a Lambda error's Cause is JSON with errorMessage. */
export function errorMessage(error: ExecutionRecord['error']): string {
  if (!error) return 'unknown error';
  try {
    const cause = JSON.parse(error.Cause ?? '') as { errorMessage?: string };
    if (cause.errorMessage) return `${error.Error}: ${cause.errorMessage}`;
  } catch {
    // not JSON: the cause as given
  }
  return [error.Error, error.Cause].filter(Boolean).join(': ') || 'unknown error';
}

export function summary(
  model: string,
  team: { team: string; stage: string },
  r: ExecutionRecord,
): { subject: string; message: string } {
  const lines = [`Retraining of ${model} (${team.team}/${team.stage}): ${OUTCOMES[r.outcome]}`, ''];
  lines.push(`execution: ${r.executionArn}`);
  if (r.trigger) lines.push(`trigger: ${r.trigger}`);
  if (r.lock?.holder) lines.push(`running execution: ${r.lock.holder}`);
  const candidate = r.publish?.version ?? r.gate?.candidateVersion;
  if (candidate) lines.push(`candidate: ${candidate}`);
  if (r.gate) lines.push(`production: ${r.gate.productionVersion ?? 'none (first model)'}`);
  if (r.approval)
    lines.push(
      `approved in the model registry${r.approval.approvedBy ? ` by ${r.approval.approvedBy}` : ''}`,
    );
  if (r.outcome === 'approval-rejected' && r.approvalError?.Cause)
    lines.push(r.approvalError.Cause);
  if (r.rollback) lines.push(`rolled back: ${r.rollback.from} -> ${r.rollback.to}`);
  if (r.gate) {
    lines.push('', `Gate (${r.gate.objective}): ${r.gate.reason}`, '');
    lines.push(
      '| check | candidate | production | required | passed |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const row of r.gate.rows)
      lines.push(
        `| ${row.check} | ${num(row.candidate)} | ${num(row.production)} | ${row.required} | ${row.passed ? 'yes' : 'NO'} |`,
      );
  }
  if (r.check) {
    const c = r.check;
    lines.push('', `Canary: ${c.outcome}: ${c.reason}`, '');
    lines.push(
      '| version | requests | error rate | p99 latency | low confidence |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const [name, f] of [
      ['candidate', c.candidate],
      ['production', c.production],
    ] as const)
      lines.push(
        `| ${name} | ${f.requests} | ${pct(f.errorRate)} | ${f.latencyP99Ms === undefined ? '-' : `${num(f.latencyP99Ms)} ms`} | ${pct(f.lowConfidenceShare)} |`,
      );
  }
  if (r.outcome === 'failed') lines.push('', `error: ${errorMessage(r.error)}`);
  // SNS subjects: at most 100 printable ASCII characters.
  const subject =
    `[${team.team}/${team.stage}] retraining ${r.outcome}${candidate ? ` ${candidate}` : ''}`.slice(
      0,
      100,
    );
  return { subject, message: lines.join('\n') };
}
