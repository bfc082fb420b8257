import * as path from 'node:path';

/** training/reference, where the trainer, its sample data generator and metric definitions live. */
export const REFERENCE_DIR = path.resolve(__dirname, '..', '..', 'reference');
