export * from './defaults';
export * from './errors';
export * from './loader';
export * from './platform';
export * from './schema';
export * from './delivery';
