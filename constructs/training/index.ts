export * from './contract';
export * from './training-infra';
