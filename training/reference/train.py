"""SageMaker / Batch / local entry point: `python train.py [train] [--epochs N ...]`."""

import sys

from ml_trainer.train import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
