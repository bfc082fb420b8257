export * from './model-approval';
