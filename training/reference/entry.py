"""Container entry point (Dockerfile ENTRYPOINT): SageMaker runs the trainer directly;
AWS Batch stages S3 data, checkpoints and the bundle around it. See ml_trainer/batch_entry.py."""

import sys

from ml_trainer.batch_entry import main

if __name__ == "__main__":
    sys.exit(main())
