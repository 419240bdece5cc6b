"""``python -m npu_model {digits,cnn} --cache build/npu_model/<model>.npz --header out.h``

Trains (only when the cache is missing), quantizes and emits the C header of a demo model. The
firmware build runs it; tests import the same modules for the bit-exact reference.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny matrices: BLAS threads only cost start-up time

from npu_model import cnn, mlp  # noqa: E402 - after the thread setting, which BLAS reads at import


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="npu_model", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["digits", "cnn"], help="which demo model")
    parser.add_argument("--cache", type=Path, required=True, help=".npz of the quantized model (reused)")
    parser.add_argument("--header", type=Path, required=True, help="C header to write")
    opts = parser.parse_args(argv)
    if opts.model == "digits":
        data, q = mlp.build(opts.cache)
        mlp.emit_header(data, q, opts.header)
    else:
        data, qc = cnn.build(opts.cache)
        cnn.emit_header(data, qc, opts.header)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
