"""``python -m pygrad demo|info|bench`` (the same as the ``pygrad`` command)."""
import sys

from .cli import main

sys.exit(main())
