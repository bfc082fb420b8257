import type { CapacityChange } from './capacity';
import type { ResourceChange } from './cloudformation';
import { formatPair, formatValue, type FieldChange } from './fields';
import type { DiffReport, StackDiff, StatefulRisk } from './report';

/** GitHub refuses a comment body longer than this (characters). */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** Marks the comment so the workflow finds and updates its own comment, not a new one. */
export const COMMENT_MARKER = '<!-- ml-platform-infra-diff -->';

export interface MarkdownOptions {
  /** @default GITHUB_COMMENT_LIMIT */
  readonly limit?: number;
}

/**
 * One PR comment: the one-line summary first, then stateful replacements and deletions in
 * bold, the capacity and cost figures, and each changed stack in a collapsed section. Never
 * longer than `limit`: what does not fit is cut at a line, and a note says what was cut.
 */
export function renderMarkdown(report: DiffReport, options: MarkdownOptions = {}): string {
  const limit = options.limit ?? GITHUB_COMMENT_LIMIT;
  const head = [summaryLine(report), '', COMMENT_MARKER];
  if (report.stateful.length > 0) {
    head.push('', ...report.stateful.map(statefulLine));
  }
  const capacity = report.stacks.filter((s) => s.capacity.length > 0);
  if (capacity.length > 0) {
    head.push('', '**Capacity and cost**', '', ...capacityTable(capacity));
  }
  const sections = report.stacks.map(stackSection);
  if (report.unchangedStacks.length > 0) {
    sections.push({
      title: 'unchanged',
      lines: ['', `Unchanged: ${report.unchangedStacks.map(code).join(', ')}`],
    });
  }
  return fit(head, sections, limit);
}

function summaryLine(r: DiffReport): string {
  const s = r.summary;
  const sides = `${code(r.sides.base)} → ${code(r.sides.head)}`;
  if (s.stacksChanged === 0) {
    return `**Infra diff** ${sides}: no changes (${r.unchangedStacks.length} stacks compared)`;
  }
  const parts = [plural(s.stacksChanged, 'stack') + ' changed'];
  if (s.statefulRisks > 0) {
    parts.push(`**⚠️ ${plural(s.statefulRisks, 'stateful resource')} replaced or deleted**`);
  }
  const resources = [
    [s.resourcesAdded, 'added'],
    [s.resourcesModified, 'modified'],
    [s.resourcesReplaced, 'replaced'],
    [s.resourcesRemoved, 'removed'],
  ]
    .filter(([n]) => Number(n) > 0)
    .map(([n, w]) => `${n} ${w}`);
  if (resources.length > 0) parts.push(`resources: ${resources.join(', ')}`);
  if (s.iamWidened > 0) parts.push(`IAM widened (${s.iamWidened})`);
  if (s.securityGroupsWidened > 0)
    parts.push(`security groups widened (${s.securityGroupsWidened})`);
  if (s.kubernetesObjectsChanged > 0)
    parts.push(plural(s.kubernetesObjectsChanged, 'Kubernetes object'));
  if (s.helmReleasesChanged > 0) parts.push(plural(s.helmReleasesChanged, 'Helm release'));
  if (s.newFindings + s.resolvedFindings > 0) {
    parts.push(`cdk-nag findings +${s.newFindings}/−${s.resolvedFindings}`);
  }
  if (s.acknowledgementsAdded + s.acknowledgementsRemoved > 0) {
    parts.push(`acknowledgements +${s.acknowledgementsAdded}/−${s.acknowledgementsRemoved}`);
  }
  if (s.capacityChanges > 0) parts.push(plural(s.capacityChanges, 'capacity figure'));
  return `**Infra diff** ${sides}: ${parts.join(' · ')}`;
}

function statefulLine(x: StatefulRisk): string {
  const what = `${code(x.stack)} ${code(x.path ? shortPath(x.path) : x.logicalId)} (${x.type})`;
  if (x.change === 'replaced') {
    const cause = x.causes.length > 0 ? `, caused by ${x.causes.map(code).join(', ')}` : '';
    return `- **⚠️ REPLACES ${what}${cause}**`;
  }
  const retained = x.retained
    ? ': DeletionPolicy Retain keeps it in the account, orphaned from the stack'
    : '';
  return `- **⚠️ DELETES ${what}${retained}**`;
}

function capacityTable(stacks: StackDiff[]): string[] {
  const rows = ['| stack | figure | base | head | Δ |', '| --- | --- | ---: | ---: | ---: |'];
  for (const s of stacks) {
    for (const c of s.capacity) {
      rows.push(
        `| ${cell(s.group)} | ${cell(c.metric)} | ${figure(c.from, c)} | ${figure(c.to, c)} | ${delta(c)} |`,
      );
    }
  }
  return rows;
}

function figure(v: number | string | undefined, c: CapacityChange): string {
  if (v === undefined) return '—';
  return cell(c.unit ? `${v} ${c.unit}` : String(v));
}

function delta(c: CapacityChange): string {
  if (c.delta === undefined)
    return c.from === undefined ? 'new' : c.to === undefined ? 'gone' : 'changed';
  return c.delta > 0 ? `+${c.delta}` : String(c.delta);
}

interface Section {
  readonly title: string;
  readonly lines: string[];
}

function stackSection(s: StackDiff): Section {
  const cfn = s.cloudformation;
  const counts = [
    ['added', cfn.resources.filter((r) => r.change === 'added').length],
    ['modified', cfn.resources.filter((r) => r.change === 'modified').length],
    ['replaced', cfn.resources.filter((r) => r.change === 'replaced').length],
    ['removed', cfn.resources.filter((r) => r.change === 'removed').length],
  ]
    .filter(([, n]) => Number(n) > 0)
    .map(([w, n]) => `${n} ${w}`);
  const status = s.status === 'modified' ? '' : ` (stack ${s.status})`;
  const extra = [
    s.kubernetes.length > 0 ? plural(s.kubernetes.length, 'Kubernetes object') : '',
    s.helm.length > 0 ? plural(s.helm.length, 'Helm release') : '',
  ].filter(Boolean);
  const summary = `${s.group}: ${s.stack}${status}: ${[...counts, ...extra].join(', ') || 'metadata only'}`;
  const lines = ['', '<details>', `<summary>${html(summary)}</summary>`, ''];
  if (cfn.resources.length > 0) {
    lines.push('**CloudFormation resources**', '');
    lines.push('| | logical ID | type | construct | change |', '| --- | --- | --- | --- | --- |');
    for (const r of cfn.resources) lines.push(resourceRow(r));
    lines.push('');
  }
  if (cfn.other.length > 0)
    lines.push(`Other template changes: ${cfn.other.map(code).join(', ')}`, '');
  if (cfn.iam.length > 0) {
    lines.push('**IAM statements**', '');
    lines.push('| | widens | effect | action | resource | principal | condition |');
    lines.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (const x of cfn.iam) {
      lines.push(
        `| ${x.change === 'added' ? '+' : '−'} | ${x.widens ? '**⚠️ yes**' : 'no'} | ${cell(x.effect)} | ${cell(x.action)} | ${cell(x.resource)} | ${cell(x.principal)} | ${cell(x.condition)} |`,
      );
    }
    lines.push('');
  }
  if (cfn.securityGroups.length > 0) {
    lines.push('**Security group rules**', '');
    lines.push(
      '| | widens | direction | group | protocol | peer |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const x of cfn.securityGroups) {
      const widens =
        x.internet && x.widens
          ? '**⚠️ yes: open to the internet**'
          : x.widens
            ? '**⚠️ yes**'
            : 'no';
      lines.push(
        `| ${x.change === 'added' ? '+' : '−'} | ${widens} | ${x.direction} | ${cell(x.group)} | ${cell(x.protocol)} | ${cell(x.peer)} |`,
      );
    }
    lines.push('');
  }
  if (s.kubernetes.length > 0) {
    lines.push('**Kubernetes objects**', '');
    for (const k of s.kubernetes) lines.push(...changeList(k.object, k.change, k.fields));
    lines.push('');
  }
  if (s.helm.length > 0) {
    lines.push('**Helm releases**', '');
    for (const h of s.helm) lines.push(...changeList(h.release, h.change, h.fields));
    lines.push('');
  }
  const sec = s.security;
  // A stack that comes or goes brings all its acknowledgements: a count says it, a list would bury the rest.
  const wholeStack = s.status !== 'modified';
  const acks = wholeStack
    ? [sec.newAcknowledgements, sec.removedAcknowledgements]
        .filter((list) => list.length > 0)
        .map(
          (list) =>
            `- ${plural(list.length, 'acknowledgement')} ${s.status === 'added' ? 'come with the new stack' : 'go with the stack'}`,
        )
    : [
        ...sec.newAcknowledgements.map(
          (a) =>
            `- **new acknowledgement** ${code(a.rule)} on ${code(a.path)}: ${inline(a.reason)}`,
        ),
        ...sec.removedAcknowledgements.map(
          (a) => `- acknowledgement removed: ${code(a.rule)} on ${code(a.path)}`,
        ),
      ];
  const secLines = [
    ...sec.newFindings.map(
      (f) => `- **new finding** ${code(f.rule)} on ${code(f.path)}: ${inline(f.description)}`,
    ),
    ...sec.resolvedFindings.map((f) => `- resolved finding ${code(f.rule)} on ${code(f.path)}`),
    ...acks,
    ...sec.changedReasons.map(
      (a) => `- reason changed for ${code(a.rule)} on ${code(a.path)}: ${inline(a.to)}`,
    ),
  ];
  if (secLines.length > 0)
    lines.push('**cdk-nag findings and acknowledgements**', '', ...secLines, '');
  lines.push('</details>');
  return { title: s.stack, lines };
}

function resourceRow(r: ResourceChange): string {
  const sign = { added: '+', removed: '−', modified: '~', replaced: '±' }[r.change];
  let change: string;
  if (r.change === 'replaced') {
    const by = r.replacedBy.length > 0 ? ` by ${r.replacedBy.map(code).join(', ')}` : '';
    const kind = r.replacement === 'may' ? 'may be replaced' : 'replaced';
    change = `${r.stateful ? `**⚠️ ${kind}**` : `**${kind}**`}${by}`;
  } else if (r.change === 'removed') {
    change = r.retained ? 'removed (retained)' : r.stateful ? '**⚠️ deleted**' : 'removed';
  } else {
    change = r.change;
  }
  const fields = [
    ...r.fields.map(fieldText),
    ...(r.shownBelow ? [`${code(`Properties.${r.shownBelow}`)}: see Kubernetes below`] : []),
  ].join('<br>');
  return `| ${sign} | ${code(r.logicalId)} | ${cell(r.type)} | ${cell(shortPath(r.path))} | ${change}${fields ? `<br>${fields}` : ''} |`;
}

function changeList(name: string, change: string, fields: FieldChange[]): string[] {
  const sign = { added: '+', removed: '−', modified: '~' }[change] ?? '~';
  return [
    `- ${sign} ${code(name)}${change === 'modified' ? '' : ` (${change})`}`,
    ...fields.map((f) => `  - ${fieldText(f)}`),
  ];
}

function fieldText(f: FieldChange): string {
  if (f.from === undefined) return `${code(f.path)}: + ${code(formatValue(f.to))}`;
  if (f.to === undefined) return `${code(f.path)}: − ${code(formatValue(f.from))}`;
  const [from, to] = formatPair(f.from, f.to);
  return `${code(f.path)}: ${code(from)} → ${code(to)}`;
}

/** Adds sections while they fit; cuts the first that does not at a line, then lists the rest. */
function fit(head: string[], sections: Section[], limit: number): string {
  const noteReserve = 700;
  const out = [...head];
  let length = out.join('\n').length;
  const budget = limit - noteReserve;
  const cut: string[] = [];
  let cutting = false;
  for (const section of sections) {
    const text = section.lines.join('\n');
    if (!cutting && length + 1 + text.length <= budget) {
      out.push(text);
      length += 1 + text.length;
      continue;
    }
    if (!cutting) {
      cutting = true;
      const close = section.lines[section.lines.length - 1] === '</details>' ? '</details>' : '';
      const kept: string[] = [];
      let omitted = 0;
      for (const line of section.lines.slice(0, close ? -1 : undefined)) {
        if (omitted === 0 && length + line.length + 120 <= budget) {
          kept.push(line);
          length += line.length + 1;
        } else {
          omitted++;
        }
      }
      const note = `_… ${omitted} more lines of ${section.title} cut_`;
      out.push([...kept, '', note, close].join('\n'));
      length += note.length + close.length + 3;
      cut.push(`the last ${omitted} lines of ${section.title}`);
      continue;
    }
    cut.push(
      section.title === 'unchanged' ? 'the list of unchanged stacks' : `all of ${section.title}`,
    );
  }
  if (cut.length > 0) {
    const list =
      cut.length > 6 ? [...cut.slice(0, 5), `${cut.length - 5} more stack sections`] : cut;
    out.push(
      '',
      `> **Truncated** to fit GitHub's ${limit.toLocaleString('en-US')}-character comment limit: cut ${list.join('; ')}. Run \`npm run diff -- --json\` for the full diff.`,
    );
  }
  const text = out.join('\n');
  return text.length <= limit
    ? text
    : `${text.slice(0, limit - 40)}\n\n> **Truncated** (hard limit)`;
}

function shortPath(p: string | undefined): string {
  if (!p) return '';
  return p
    .split('/')
    .slice(1)
    .filter((s) => s !== 'Resource')
    .join('/');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Inline code that survives any content (backticks inside, pipes in tables). */
function code(s: string): string {
  const t = s.replace(/`/g, "'").replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  return `\`${t}\``;
}

function cell(s: string): string {
  return html(s).replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

function inline(s: string): string {
  return html(s).replace(/\r?\n/g, ' ');
}

function html(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
