export * from './model-approval';
export * from './retraining-pipeline';
