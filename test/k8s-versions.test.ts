import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  compatibilityMatrix,
  K8S_VERSIONS,
  KUBERNETES_MINOR,
  KUBERNETES_VERSION,
} from '../constructs/k8s-versions';

const root = path.join(__dirname, '..');
const packageJson = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const installedVersion = (pkg: string): string =>
  JSON.parse(fs.readFileSync(require.resolve(`${pkg}/package.json`, { paths: [root] }), 'utf8'))
    .version;
const minorOf = (version: string): string => /^v?(\d+\.\d+)/.exec(version)?.[1] ?? version;

describe('the pinned versions agree (constructs/k8s-versions.ts)', () => {
  test('the cluster runs the Kubernetes minor the module names', () => {
    expect(KUBERNETES_VERSION.version).toBe(KUBERNETES_MINOR);
  });

  test('cdk8s-plus-NN is a dependency and NN is the cluster minor', () => {
    const { package: pkg, kubernetesMinor } = K8S_VERSIONS.cdk8sPlus;
    expect(packageJson.dependencies).toHaveProperty(pkg);
    expect(pkg).toBe(`cdk8s-plus-${kubernetesMinor}`);
    expect(`1.${kubernetesMinor}`).toBe(KUBERNETES_MINOR);
    // No other cdk8s-plus major sneaks in next to it.
    const plus = Object.keys(packageJson.dependencies).filter((d) => d.startsWith('cdk8s-plus-'));
    expect(plus).toEqual([pkg]);
  });

  test('the kubectl layer package matches the cluster minor, kubectl included', () => {
    const { package: pkg, kubectl } = K8S_VERSIONS.kubectlLayer;
    expect(packageJson.dependencies).toHaveProperty(pkg);
    expect(pkg).toBe(`@aws-cdk/lambda-layer-kubectl-v${KUBERNETES_MINOR.split('.')[1]}`);
    expect(minorOf(kubectl)).toBe(KUBERNETES_MINOR);
  });

  test('the installed aws-cdk-lib is the one the matrix was checked with', () => {
    expect(installedVersion('aws-cdk-lib')).toBe(K8S_VERSIONS.awsCdkLib);
  });

  test('Cluster Autoscaler is the release for the cluster minor', () => {
    expect(minorOf(K8S_VERSIONS.helm.clusterAutoscaler.appVersion)).toBe(KUBERNETES_MINOR);
  });

  test('the Load Balancer Controller policy file is the one of the pinned controller', () => {
    const file = path.join(
      root,
      'constructs/serving/policies',
      `aws-load-balancer-controller-${K8S_VERSIONS.helm.awsLoadBalancerController.appVersion}.json`,
    );
    expect(fs.existsSync(file)).toBe(true);
    const serving = fs.readFileSync(
      path.join(root, 'constructs/serving/serving-cluster.ts'),
      'utf8',
    );
    expect(serving).toContain(`./policies/${path.basename(file)}`);
  });

  test('EKS add-on versions are eksbuild pins, never "latest"', () => {
    for (const addon of Object.values(K8S_VERSIONS.addons)) {
      expect(addon.version).toMatch(/^v\d+\.\d+\.\d+-eksbuild\.\d+$/);
    }
    for (const chart of Object.values(K8S_VERSIONS.helm)) {
      expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  test('docs/compatibility.md shows the matrix of the module', () => {
    const doc = fs.readFileSync(path.join(root, 'docs/compatibility.md'), 'utf8');
    // Fix: paste the table this test prints as "Expected" into docs/compatibility.md.
    expect(doc).toContain(compatibilityMatrix());
  });
});
