"""Issue 14, per-layer profile: `npuemu run --stats` files the NPU's commands under the layers the
compiler named (the `.npuemu.layers` ELF section), measured next to the compiler's estimate, and
`--npu-trace` has a `layers` track with one named slice per layer; firmware without the table
prints no layer table."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tflite_refs import model_path

from emu.compiler.estimate import estimate
from emu.compiler.layer_table import INPUT_INDEX, LayerInfo, decode, encode, tag
from emu.compiler.lower import compile_model
from emu.elf_loader import load_elf

ROW = re.compile(r"^npuemu: npu:   (\S+(?: \S+)?)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)%$")


def run_cli(elf: Path, trace: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "emu.cli", "run", "--stats", "--deterministic", "--timeout", "300",
                           "--npu-trace", str(trace), str(elf)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


def totals(stderr: str) -> dict[str, int]:
    m = re.search(r"npu: (\d+) commands, (\d+) busy cycles, (\d+) MACs", stderr)
    d = re.search(r"npu: DMA (\d+) B in, (\d+) B out", stderr)
    assert m and d, stderr[-2000:]
    return {"commands": int(m[1]), "cycles": int(m[2]), "macs": int(m[3]), "dma_in": int(d[1]), "dma_out": int(d[2])}


@pytest.mark.parametrize("arch", ["rv32"])
def test_kws_per_layer_stats_and_trace(firmware, tmp_path: Path, arch: str) -> None:
    elf = firmware("kws", arch)
    stderr = run_cli(elf, tmp_path / "kws.json")
    rows = {m[1]: m for m in map(ROW.match, stderr.splitlines()) if m}
    model = compile_model(model_path("kws_ref_model"), name="kws")
    expected = {e.name: e for e in estimate(model) if e.kind == "npu" and e.commands}
    # every NPU layer of the model, by its name from the model, in order; then the weights preload
    assert list(rows) == [*expected, "resident weights"], stderr[-3000:]
    for name, e in expected.items():  # the demo runs one inference: measured == the static estimate
        r = rows[name]
        assert (int(r[2]), int(r[3]), r[4], int(r[5]), int(r[6]), int(r[7])) == (
            e.commands, e.cycles, str(e.cycles), e.macs, e.dma_in, e.dma_out), name
    assert rows["resident weights"][3] == rows["resident weights"][4]
    # the rows add up to the device's totals
    t = totals(stderr)
    for key, col in (("commands", 2), ("cycles", 3), ("macs", 5), ("dma_in", 6), ("dma_out", 7)):
        assert sum(int(r[col]) for r in rows.values()) == t[key], key
    dynamic = float(re.search(r"= dynamic ([\d.]+) uJ", stderr)[1])
    assert abs(sum(float(r[8]) for r in rows.values()) - dynamic) < 0.001 * len(rows)
    assert abs(sum(float(r[9]) for r in rows.values()) - 100) < 0.1 * len(rows)
    npu_lines = [line for line in stderr.splitlines() if line.startswith("npuemu: npu:")]
    assert "elapsed cycles" in npu_lines[-1]  # still last: the one host-paced line

    events = json.loads((tmp_path / "kws.json").read_text())["traceEvents"]
    tid = next(e["tid"] for e in events if e.get("ph") == "M" and e["args"].get("name") == "layers")
    slices = [e for e in events if e.get("tid") == tid and e["ph"] == "X"]
    assert [s["name"] for s in slices] == ["resident weights", *expected]
    for s in slices[1:]:
        assert s["args"]["busy_cycles"] == expected[s["name"]].cycles
    ends = [s["ts"] + s["dur"] for s in slices]
    assert all(s["ts"] >= end - 1e-6 for s, end in zip(slices[1:], ends, strict=False))  # no overlap on the track


def test_firmware_without_layer_table(firmware, tmp_path: Path) -> None:
    elf = firmware("npu_demo", "rv32")
    assert load_elf(elf).npuemu_sections == {}
    stderr = run_cli(elf, tmp_path / "demo.json")
    assert "npu: per layer" not in stderr and totals(stderr)["commands"] > 0
    events = json.loads((tmp_path / "demo.json").read_text())["traceEvents"]
    assert not any(e.get("args", {}).get("name") == "layers" for e in events)


def test_layer_table_text_round_trip() -> None:
    rows = [LayerInfo(tag("m", INPUT_INDEX), "m", "input", "npu", 10, 0, 5, 6, 7),
            LayerInfo(tag("m", 3), "m", "3:CONV_2D", "npu", 100, 200, 300, 400, 500)]
    data = b"junk\0" + encode("m", rows).encode() + b"\0npuemu.layers 1 m\nbad\tline\n\0"
    assert decode(data) == {r.tag: r for r in rows}
    other = encode("n", [LayerInfo(tag("m", 3), "n", "3:ADD", "npu", 1, 2, 3, 4, 5)]).encode()
    shared = decode(data + other + b"\0")[tag("m", 3)]  # two models of one firmware, one tag: named after both
    assert (shared.name, shared.kind) == ("m:3:CONV_2D|n:3:ADD", "shared")


def test_mlperf_app_keeps_its_four_models_apart(firmware, tmp_path: Path) -> None:
    """The mlperf app links four models: the tags' model keys keep their rows apart (named model:layer);
    with no inputs placed it runs one ad01 inference, whose rows equal their estimates."""
    stderr = run_cli(firmware("mlperf", "rv32"), tmp_path / "mlperf.json")
    rows = [m for m in map(ROW.match, stderr.splitlines()) if m]
    assert [m[1] for m in rows][:2] == ["ad01:input", "ad01:0:FULLY_CONNECTED"], stderr[-3000:]
    assert len(rows) == 12 and all(m[1].startswith("ad01:") and m[3] == m[4] for m in rows)
    assert sum(int(m[3]) for m in rows) == totals(stderr)["cycles"]
