import { Stack, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

export interface MlStackProps {
  /** Construct ID and CloudFormation stack name (lib/naming.ts). */
  readonly name: string;
  readonly account: string;
  readonly region: string;
  /** Availability zones from config, so synth never asks AWS for them. */
  readonly availabilityZones: readonly string[];
  readonly terminationProtection: boolean;
  readonly description: string;
  /** Tags for every resource in the stack. */
  readonly tags: Record<string, string>;
}

/**
 * Base of every stack in the app: a fixed environment whose availability zones come from
 * config (an env-specific stack would otherwise look them up with AWS calls during synth).
 */
export abstract class MlStack extends Stack {
  private readonly zones: string[];

  constructor(scope: Construct, props: MlStackProps) {
    super(scope, props.name, {
      stackName: props.name,
      env: { account: props.account, region: props.region },
      terminationProtection: props.terminationProtection,
      description: props.description,
    });
    this.zones = [...props.availabilityZones];
    for (const [key, value] of Object.entries(props.tags)) Tags.of(this).add(key, value);
  }

  override get availabilityZones(): string[] {
    return this.zones;
  }
}
