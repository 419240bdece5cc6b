"""`python -m emu.compiler model.tflite -o out/ [--name N] [--estimate]` (same as `npuemu compile`)."""

import sys

from emu.compiler.cli import main

sys.exit(main())
