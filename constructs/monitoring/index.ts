export * from './cost-allocation';
export * from './serving-metrics';
export * from './team-monitoring';
