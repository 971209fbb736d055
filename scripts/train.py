#!/usr/bin/env python
"""Train a network and publish it to the model store (same as the `nns-train` command)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from service.training.cli import train_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(train_main())
