"""The per-layer table a compiled model leaves in its firmware ELF for the emulator's profile.

The compiler (``emit_c``) writes, per model, one NUL-terminated text string into the ELF section
:data:`SECTION`: a header line ``npuemu.layers 1 <model>``, then per layer
``tag<TAB>name<TAB>kind<TAB>cycles<TAB>macs<TAB>dma_in<TAB>dma_out<TAB>energy_pj`` with the
static estimate (``emu.compiler.estimate``).  Every NPU descriptor of a layer carries the layer's
16-bit tag (:func:`tag`: the TFLite operator index in the low 10 bits, :data:`INPUT_INDEX` and
:data:`PRELOAD_INDEX` for the input copy and the resident-weights load, and a 6-bit key of the
model's name above, so that the models of one firmware, e.g. the ``mlperf`` app's four, keep apart),
so the device can file each command's measured cost under its layer (``NpuDevice.set_layers``,
``npuemu run --stats``, the ``layers`` track of ``--npu-trace``).
Text, not a C struct: the same bytes read alike from rv32 and rv64 ELFs.  This module stays light
(no numpy, no flatbuffers): the machine imports it for every ELF it loads.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

SECTION = ".npuemu.layers"
MAGIC = "npuemu.layers 1"
INDEX_BITS = 10
INPUT_INDEX = (1 << INDEX_BITS) - 1  # the DMA of the input into the arena
PRELOAD_INDEX = INPUT_INDEX - 1  # LOAD_WEIGHTS of resident weights, once when the model is armed
MAX_OPERATORS = PRELOAD_INDEX  # operator indexes 0 .. MAX_OPERATORS - 1 fit in a tag


def model_key(model: str) -> int:
    """The tag's upper 6 bits: a checksum of the model's C name (two models of one firmware that
    happen to share it share rows; see :func:`decode`)."""
    return zlib.crc32(model.encode()) & ((1 << (16 - INDEX_BITS)) - 1)


def tag(model: str, index: int) -> int:
    """The descriptor tag of a model's operator ``index`` (or INPUT_INDEX / PRELOAD_INDEX)."""
    return model_key(model) << INDEX_BITS | index


@dataclass(frozen=True)
class LayerInfo:
    """One layer as compiled: its name and the static estimate of its NPU work."""

    tag: int
    model: str
    name: str
    kind: str  # "npu", "softmax" (CPU fallback), "alias" (no work), "preload"
    cycles: int
    macs: int
    dma_in: int
    dma_out: int
    energy_pj: int


def encode(model: str, rows: list[LayerInfo]) -> str:
    """The section text of one model (without the terminating NUL)."""
    lines = [f"{MAGIC} {model}"]
    lines += [f"{r.tag}\t{r.name}\t{r.kind}\t{r.cycles}\t{r.macs}\t{r.dma_in}\t{r.dma_out}\t{r.energy_pj}"
              for r in rows]
    return "\n".join(lines) + "\n"


def decode(data: bytes) -> dict[int, LayerInfo]:
    """The layers of every model in a section's bytes, by tag (strings not in the format are skipped).

    Tags are unique within one model; where two models of one firmware have the same
    :func:`model_key`, the device cannot tell their commands apart, so the entry is named after both
    (``kws:3:CONV_2D|vww:3:CONV_2D``), kind ``shared``, with no estimate.
    """
    table: dict[int, LayerInfo] = {}
    for chunk in data.split(b"\0"):
        lines = chunk.decode("utf-8", "replace").splitlines()
        if not lines or not lines[0].startswith(MAGIC + " "):
            continue
        model = lines[0][len(MAGIC) + 1 :]
        for line in lines[1:]:
            parts = line.split("\t")
            if len(parts) != 8 or not all(p.isdigit() for p in (parts[0], *parts[3:])):
                continue
            tag, name, kind, *numbers = parts
            info = LayerInfo(int(tag), model, name, kind, *(int(n) for n in numbers))
            old = table.get(info.tag)
            if old is not None and old.model != model:
                first = old.name if old.kind == "shared" else f"{old.model}:{old.name}"
                info = LayerInfo(info.tag, f"{old.model}|{model}", f"{first}|{model}:{name}", "shared", 0, 0, 0, 0, 0)
            table[info.tag] = info
    return table
