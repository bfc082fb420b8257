import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/**
 * Runs the AWS Solutions rule pack on every synth. An unacknowledged error fails synth; each
 * acknowledgement sits next to the resource it covers, with its reason.
 */
export function addSecurityChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
