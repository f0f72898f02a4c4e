"""pygrad vs PyTorch on the GPU issue's workloads: a thin entry point to ``pygrad/bench.py``
(the same table as ``pygrad bench``; see ``--help``)."""
import sys

from pygrad.bench import main

if __name__ == "__main__":
    sys.exit(main())
