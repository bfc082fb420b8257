export * from './serving-metrics';
export * from './team-monitoring';
