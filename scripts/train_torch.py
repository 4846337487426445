#!/usr/bin/env python3
"""PyTorch mirror of the project's tfjs trainer: the command line. The code and its documentation are in
scripts/bitnet_torch/ (cli.py has the subcommands); `import train_torch` still gives every name."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bitnet_torch.cli import *  # noqa: E402,F401,F403 — `import train_torch as tt` keeps working
from bitnet_torch.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
