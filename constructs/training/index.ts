export * from './contract';
export * from './training-infra';
export * from './experiment-tracking';
