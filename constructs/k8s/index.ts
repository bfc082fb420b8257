export * from './pod-identity';
export * from './serving-chart';
export * from './serving-env';
