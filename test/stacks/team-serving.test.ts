import { Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import { Chart, Testing } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { DataLake } from '../../constructs/data-lake';
import { TeamServing, type TeamServingProps } from '../../constructs/serving';
import { MODEL_STORE_PREFIX } from '../../serving/src/store/layout';
import { testApp, placeholderImageDir } from '../helpers/teams';

const imageDirectory = placeholderImageDir();

function teamServing(props: Partial<TeamServingProps> = {}): TeamServing {
  const stack = new Stack(testApp(), 'Team', {
    env: { account: '111111111111', region: 'eu-west-1' },
  });
  return new TeamServing(stack, 'Serving', {
    cluster: eks.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'test' }),
    namespace: 'alpha-dev',
    serviceAccountName: 'inference',
    dataLake: new DataLake(stack, 'DataLake'),
    imageDirectory,
    ...props,
  });
}

function chartWith(namespace: string, serviceAccount: string): Chart {
  const chart = new Chart(Testing.app(), 'Chart');
  new k8s.KubeNamespace(chart, 'Ns', { metadata: { name: namespace } });
  new k8s.KubeServiceAccount(chart, 'Sa', { metadata: { name: serviceAccount, namespace } });
  return chart;
}

describe('TeamServing', () => {
  test("the model store is the layout's prefix of the models bucket; feedback follows its prop", () => {
    const serving = teamServing({ feedbackPrefix: 'capture/v1' });
    const stack = Stack.of(serving);
    expect(stack.resolve(serving.modelStore)).toEqual({
      'Fn::Join': [
        '',
        ['s3://', { Ref: expect.stringMatching(/^DataLakeModels/) }, `/${MODEL_STORE_PREFIX}`],
      ],
    });
    expect(stack.resolve(serving.feedbackUri)).toEqual({
      'Fn::Join': [
        '',
        ['s3://', { Ref: expect.stringMatching(/^DataLakeProcessed/) }, '/capture/v1'],
      ],
    });
  });

  test('fails on a prefix with a wildcard (it would widen the pod role)', () => {
    expect(() => teamServing({ feedbackPrefix: 'feedback/*' })).toThrow(
      /Team\/Serving: feedbackPrefix must be a key prefix like "feedback".*got "feedback\/\*"/,
    );
  });

  test('fails to apply a chart whose namespace is not the one the pod role is bound to', () => {
    const serving = teamServing();
    expect(() => serving.addChart('Manifests', chartWith('other-dev', 'inference'))).toThrow(
      /the chart must create namespace "alpha-dev" \(the pod role is bound to it\)/,
    );
  });

  test('fails to apply a chart without the bound service account', () => {
    const serving = teamServing();
    expect(() => serving.addChart('Manifests', chartWith('alpha-dev', 'default'))).toThrow(
      /the chart must create service account "inference" in "alpha-dev"/,
    );
  });
});
