/** The outcome of one check: one line of the doctor's report. */
export interface CheckResult {
  readonly check: string;
  readonly ok: boolean;
  /** What was found (ok), or what is wrong. */
  readonly detail: string;
  /** The command (or step) that fixes it; failures only. */
  readonly fix?: string;
}

/** `ok    <scope> <check>: <detail>` or `FAIL  <scope> <check>: <detail>; fix: <fix>`. */
export function formatResult(scope: string, r: CheckResult): string {
  const line = `${r.ok ? 'ok  ' : 'FAIL'}  ${scope ? `${scope} ` : ''}${r.check}: ${r.detail}`;
  return r.ok || !r.fix ? line : `${line}; fix: ${r.fix}`;
}
