"""The per-layer table a compiled model leaves in its firmware ELF for the emulator's profile.

The compiler (``emit_c``) writes, per model, one NUL-terminated text string into the ELF section
:data:`SECTION`: a header line ``npuemu.layers 1 <model>``, then per layer
``tag<TAB>name<TAB>kind<TAB>cycles<TAB>macs<TAB>dma_in<TAB>dma_out<TAB>energy_pj`` with the
static estimate (``emu.compiler.estimate``).  Every NPU descriptor of a layer carries the layer's
tag (the TFLite operator index; :data:`INPUT_TAG` and :data:`PRELOAD_TAG` for the input copy and
the resident-weights load), so the device can file each command's measured cost under its layer
(``NpuDevice.set_layers``, ``npuemu run --stats``, the ``layers`` track of ``--npu-trace``).
Text, not a C struct: the same bytes read alike from rv32 and rv64 ELFs.  This module stays light
(no numpy, no flatbuffers): the machine imports it for every ELF it loads.
"""

from __future__ import annotations

from dataclasses import dataclass

SECTION = ".npuemu.layers"
MAGIC = "npuemu.layers 1"
INPUT_TAG = 0xFFFF  # the DMA of the input into the arena
PRELOAD_TAG = 0xFFFE  # LOAD_WEIGHTS of resident weights, once when the model is armed


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

    Tags are unique within one model; a firmware linking two models sees the later one's layer
    where tags collide (their commands are then filed under one name).
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
            table[int(tag)] = LayerInfo(int(tag), model, name, kind, *(int(n) for n in numbers))
    return table
