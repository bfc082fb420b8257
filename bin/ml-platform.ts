#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildPlatformApp } from '../lib/app';
import { ConfigError, loadAppConfig, loadDeliveryConfig } from '../lib/config';

const app = new App();
try {
  buildPlatformApp(app, loadAppConfig(app.node), { delivery: loadDeliveryConfig(app.node) });
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
app.synth();
