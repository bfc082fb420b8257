import { fullDiff, ResourceImpact, type ResourceDifference } from '@aws-cdk/cloudformation-diff';
import type { StackArtifact, Template } from './assembly';
import { fieldChanges, isObject, type FieldChange } from './fields';
import { HELM_CHART, KUBERNETES_RESOURCE, parseJsonProperty } from './kubernetes';

/**
 * Resource types whose replacement or deletion loses data or breaks every workload on it:
 * the diff puts these at the top of the comment and `--fail-on-replace` fails on them.
 */
export const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  'AWS::S3::Bucket',
  'AWS::KMS::Key',
  'AWS::EKS::Cluster',
  'Custom::AWSCDK-EKS-Cluster',
  'AWS::Logs::LogGroup',
  'AWS::SecretsManager::Secret',
  'AWS::DynamoDB::Table',
  'AWS::SageMaker::ModelPackageGroup',
  'AWS::ECR::Repository',
  'AWS::EFS::FileSystem',
  'AWS::RDS::DBCluster',
  'AWS::RDS::DBInstance',
]);

/** Properties shown elsewhere in the comment (Kubernetes objects, Helm releases). */
const SHOWN_ELSEWHERE: Readonly<Record<string, string>> = {
  [KUBERNETES_RESOURCE]: 'Manifest',
  [HELM_CHART]: 'Values',
};

export type ResourceChangeKind = 'added' | 'removed' | 'modified' | 'replaced';

export interface ResourceChange {
  readonly logicalId: string;
  /** Construct path, when the assembly's metadata knows it. */
  readonly path?: string;
  readonly type: string;
  readonly change: ResourceChangeKind;
  /** `may` when CloudFormation replaces only for some values of the property. */
  readonly replacement?: 'will' | 'may';
  /** The properties whose change causes the replacement. */
  readonly replacedBy: string[];
  readonly stateful: boolean;
  /** For a removal: the resource stays in the account (DeletionPolicy Retain) but leaves the stack. */
  readonly retained?: boolean;
  readonly fields: FieldChange[];
  /** A changed property whose content the Kubernetes section shows (`Manifest`, `Values`). */
  readonly shownBelow?: string;
}

export interface IamStatementChange {
  readonly change: 'added' | 'removed';
  readonly effect: string;
  readonly resource: string;
  readonly action: string;
  readonly principal: string;
  readonly condition: string;
  /** Added permissions, or a removed Deny. */
  readonly widens: boolean;
}

export interface SecurityGroupRuleChange {
  readonly change: 'added' | 'removed';
  readonly direction: 'ingress' | 'egress';
  readonly group: string;
  readonly protocol: string;
  readonly peer: string;
  /** An added ingress rule; `internet` when it admits 0.0.0.0/0 or ::/0. */
  readonly widens: boolean;
  readonly internet: boolean;
}

export interface CloudFormationDiff {
  readonly resources: ResourceChange[];
  readonly iam: IamStatementChange[];
  readonly securityGroups: SecurityGroupRuleChange[];
  /** Outputs, parameters and other template sections that changed, by name. */
  readonly other: string[];
}

const EMPTY: Template = { Resources: {} };

export function diffCloudFormation(
  base: StackArtifact | undefined,
  head: StackArtifact | undefined,
): CloudFormationDiff {
  const diff = fullDiff(base?.template ?? EMPTY, head?.template ?? EMPTY);
  const resources: ResourceChange[] = [];
  diff.resources.forEachDifference((logicalId, change) => {
    const r = resourceChange(logicalId, change, base, head);
    if (r) resources.push(r);
  });
  resources.sort((a, b) => a.logicalId.localeCompare(b.logicalId, 'en', { numeric: true }));

  const iam: IamStatementChange[] = [];
  for (const [change, list] of [
    ['added', diff.iamChanges.statements.additions],
    ['removed', diff.iamChanges.statements.removals],
  ] as const) {
    for (const s of list) {
      const r = s.render();
      const negative = s.isNegativeStatement;
      iam.push({
        change,
        effect: r.effect,
        resource: r.resource,
        action: r.action,
        principal: r.principal,
        condition: r.condition,
        widens: change === 'added' ? !negative : negative,
      });
    }
  }
  for (const [change, list] of [
    ['added', diff.iamChanges.managedPolicies.additions],
    ['removed', diff.iamChanges.managedPolicies.removals],
  ] as const) {
    for (const m of list) {
      iam.push({
        change,
        effect: 'Allow',
        resource: m.identityArn,
        action: `managed policy ${m.managedPolicyArn}`,
        principal: '',
        condition: '',
        widens: change === 'added',
      });
    }
  }

  const securityGroups: SecurityGroupRuleChange[] = [];
  const sg = diff.securityGroupChanges;
  for (const [direction, collection] of [
    ['ingress', sg.ingress],
    ['egress', sg.egress],
  ] as const) {
    for (const [change, list] of [
      ['added', collection.additions],
      ['removed', collection.removals],
    ] as const) {
      for (const rule of list) {
        const peer = rule.describePeer();
        const internet =
          rule.peer?.kind === 'cidr-ip' && ['0.0.0.0/0', '::/0'].includes(rule.peer.ip);
        securityGroups.push({
          change,
          direction,
          group: rule.groupId,
          protocol: rule.describeProtocol(),
          peer,
          widens: change === 'added' && direction === 'ingress',
          internet,
        });
      }
    }
  }

  const other: string[] = [];
  for (const [section, collection] of [
    ['Output', diff.outputs],
    ['Parameter', diff.parameters],
    ['Condition', diff.conditions],
    ['Mapping', diff.mappings],
  ] as const) {
    collection.forEachDifference((id) => other.push(`${section} ${id}`));
  }
  if (diff.description?.isDifferent) other.push('Description');
  return { resources, iam, securityGroups, other };
}

function resourceChange(
  logicalId: string,
  change: ResourceDifference,
  base: StackArtifact | undefined,
  head: StackArtifact | undefined,
): ResourceChange | undefined {
  const type = change.newResourceType ?? change.oldResourceType ?? 'unknown';
  const path = head?.paths[logicalId] ?? base?.paths[logicalId];
  const stateful = STATEFUL_TYPES.has(type) || STATEFUL_TYPES.has(change.oldResourceType ?? '');
  const common = { logicalId, ...(path ? { path } : {}), type, stateful };
  if (change.isAddition) {
    return { ...common, change: 'added', replacedBy: [], fields: [] };
  }
  if (change.isRemoval) {
    const policy = change.oldValue?.DeletionPolicy;
    return {
      ...common,
      change: 'removed',
      replacedBy: [],
      retained: policy === 'Retain' || policy === 'RetainExceptOnCreate',
      fields: [],
    };
  }
  const elsewhere = SHOWN_ELSEWHERE[type];
  const fields = fieldChanges(
    joinsAsText(stripShownElsewhere(change.oldValue, elsewhere)),
    joinsAsText(stripShownElsewhere(change.newValue, elsewhere)),
  ).filter((f) => f.path !== 'Metadata.aws:cdk:path');
  const replacedBy: string[] = [];
  for (const [name, prop] of Object.entries(change.propertyUpdates)) {
    if (
      prop.changeImpact === ResourceImpact.WILL_REPLACE ||
      prop.changeImpact === ResourceImpact.MAY_REPLACE
    ) {
      replacedBy.push(name);
    }
  }
  if (change.resourceTypeChanged) replacedBy.push('Type');
  const impact = change.changeImpact;
  const replaced = impact === ResourceImpact.WILL_REPLACE || impact === ResourceImpact.MAY_REPLACE;
  const shownBelow = elsewhere !== undefined && change.propertyUpdates[elsewhere] !== undefined;
  if (!replaced && fields.length === 0 && !shownBelow) return undefined;
  return {
    ...common,
    change: replaced ? 'replaced' : 'modified',
    ...(replaced ? { replacement: impact === ResourceImpact.WILL_REPLACE ? 'will' : 'may' } : {}),
    replacedBy: replacedBy.sort(),
    ...(shownBelow ? { shownBelow: elsewhere } : {}),
    fields,
  };
}

/**
 * An `Fn::Join` (a dashboard body, a policy document built around references) compares as the
 * text it renders to, parsed when that text is JSON: a change then shows as the field that
 * changed, not as the index of a join part.
 */
function joinsAsText(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(joinsAsText);
  if (!isObject(value)) return value;
  if (Object.keys(value).length === 1 && 'Fn::Join' in value) return parseJsonProperty(value);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, joinsAsText(v)]));
}

function stripShownElsewhere(resource: unknown, property: string | undefined): unknown {
  if (!property || !resource || typeof resource !== 'object') return resource;
  const r = resource as { Properties?: Record<string, unknown> };
  if (!r.Properties) return resource;
  const rest = Object.fromEntries(Object.entries(r.Properties).filter(([k]) => k !== property));
  return { ...r, Properties: rest };
}
