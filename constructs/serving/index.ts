export * from './acknowledgements';
export * from './pod-identity-role';
export * from './serving-cluster';
export * from './team-serving';
export * from './metrics-pipeline';
export * from './rate-limit-acl';
