export * from './training-infra';
