"""Model tools for the D-IMC NPU: train, quantize to int8, lay out on the tiles, emit C headers.

The quantized networks here are *bit-exact* references of what the firmware computes on the NPU:
every integer formula (requantization, weight update) is the one of docs/npu.md, so a test can
compare firmware predictions with :func:`npu_model.mlp.forward` image by image.

Run ``python -m npu_model --help`` with ``toolchain`` on ``PYTHONPATH`` (the firmware build does).
"""
