export * from './pod-identity-role';
export * from './serving-cluster';
