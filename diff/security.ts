import type { Acknowledgement, Finding, StackArtifact } from './assembly';

/** cdk-nag findings and acknowledgements that one side has and the other has not. */
export interface SecurityDelta {
  /** Unacknowledged findings the change introduces (synth of this side fails on them). */
  readonly newFindings: Finding[];
  readonly resolvedFindings: Finding[];
  readonly newAcknowledgements: Acknowledgement[];
  /** Acknowledgements the change removes (the finding is gone, or now unacknowledged). */
  readonly removedAcknowledgements: Acknowledgement[];
  /** Same rule and construct, new reason. */
  readonly changedReasons: { rule: string; path: string; from: string; to: string }[];
}

export function diffSecurity(
  base: StackArtifact | undefined,
  head: StackArtifact | undefined,
): SecurityDelta {
  const key = (x: { rule: string; path: string }) => `${x.path}\u0000${x.rule}`;
  const index = <T extends { rule: string; path: string }>(list: T[] = []) =>
    new Map(list.map((x) => [key(x), x]));
  const fromFindings = index(base?.findings);
  const toFindings = index(head?.findings);
  const fromAcks = index(base?.acknowledgements);
  const toAcks = index(head?.acknowledgements);
  const onlyIn = <T>(a: Map<string, T>, b: Map<string, T>) =>
    [...a.entries()].filter(([k]) => !b.has(k)).map(([, v]) => v);
  const changedReasons = [...toAcks.entries()].flatMap(([k, ack]) => {
    const old = fromAcks.get(k);
    return old && old.reason !== ack.reason
      ? [{ rule: ack.rule, path: ack.path, from: old.reason, to: ack.reason }]
      : [];
  });
  return {
    newFindings: sorted(onlyIn(toFindings, fromFindings)),
    resolvedFindings: sorted(onlyIn(fromFindings, toFindings)),
    newAcknowledgements: sorted(onlyIn(toAcks, fromAcks)),
    removedAcknowledgements: sorted(onlyIn(fromAcks, toAcks)),
    changedReasons: sorted(changedReasons),
  };
}

export function isEmptySecurityDelta(d: SecurityDelta): boolean {
  return (
    d.newFindings.length +
      d.resolvedFindings.length +
      d.newAcknowledgements.length +
      d.removedAcknowledgements.length +
      d.changedReasons.length ===
    0
  );
}

function sorted<T extends { rule: string; path: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => a.path.localeCompare(b.path) || a.rule.localeCompare(b.rule));
}
