"""`npuemu sweep`: 24 cases (2 firmware x 3 tile counts x 2 NPU clocks x 2 input bits per cycle) give the same
table with 1 worker, 2 local workers and a local Ray instance this test starts; the plot is written."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from emu.sweep import pareto_front

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = [ROOT / "build" / "firmware" / arch / "npu_drvtest.elf" for arch in ("rv32", "rv64")]
AXES = ["--npu", "geometry.tiles=4,8,16", "--npu", "clock.npu_mhz=250,500", "--npu", "macro.input_bits_per_cycle=1,2",
        "--option", "ram=32M"]  # a small DRAM: cheaper power-on snapshots


def sweep(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "emu.cli", "sweep", *map(str, FIRMWARE), *AXES, *map(str, args)],
                            capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    where = tmp_path_factory.mktemp("sweep")
    result = sweep("--workers", "1", "-o", where / "one.csv", "--plot", where / "pareto.png")
    return where, result.stderr


def test_table_has_one_row_per_case_in_grid_order(one_worker):
    where, stderr = one_worker
    rows = list(csv.DictReader((where / "one.csv").open()))
    assert len(rows) == 24 and "sweep: 24 cases on 1 local worker(s)" in stderr
    assert [row["config"] for row in rows[:2]] == [
        '{"clock.npu_mhz": 250, "geometry.tiles": 4, "macro.input_bits_per_cycle": 1}',
        '{"clock.npu_mhz": 250, "geometry.tiles": 4, "macro.input_bits_per_cycle": 2}']
    assert len({row["key"] for row in rows}) == 24 and all(row["status"] == "exited" for row in rows)
    assert all(row["exit_code"] == "0" and row["npu_commands"] == "180" for row in rows)
    # The NPU clock changes time and idle energy, never the console; the bits per cycle change cycles.
    assert len({row["console_sha256"] for row in rows if "rv32" in row["firmware"]}) == 1
    # Grid order: tiles, then clock, then input bits per cycle (the --npu order). rows[0] -> rows[1]:
    # two input bits per cycle halve the MVM cycles per row; rows[0] -> rows[2]: the clock doubled, so the same cycles take less virtual time.
    assert int(rows[0]["npu_busy_cycles"]) > int(rows[1]["npu_busy_cycles"])
    assert rows[2]["config"].startswith('{"clock.npu_mhz": 500, "geometry.tiles": 4')
    assert int(rows[0]["virtual_ns"]) > int(rows[2]["virtual_ns"])
    assert (where / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_two_local_workers_give_the_same_table(one_worker):
    where, _ = one_worker
    result = sweep("--workers", "2", "-o", where / "two.csv")
    assert "24 cases on 2 local worker(s)" in result.stderr
    assert (where / "two.csv").read_bytes() == (where / "one.csv").read_bytes()


def test_a_local_ray_instance_gives_the_same_table(one_worker):
    ray = pytest.importorskip("ray", reason="Ray is the optional extra npuemu[ray]")
    where, _ = one_worker
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)   # this test's own local cluster
    try:
        address = ray.get_runtime_context().gcs_address
        result = sweep("--ray", address, "-o", where / "ray.csv")
    finally:
        ray.shutdown()
    assert f"24 cases on Ray at {address}" in result.stderr
    assert (where / "ray.csv").read_bytes() == (where / "one.csv").read_bytes()


def test_pareto_front():
    assert pareto_front([(1, 5), (2, 2), (3, 3), (5, 1), (2, 2)]) == [0, 1, 3, 4]


def test_machine_option_axis(tmp_path):
    out = tmp_path / "t.csv"
    subprocess.run([sys.executable, "-m", "emu.cli", "sweep", str(FIRMWARE[0]), "--option", "ns_per_insn=10,5",
                    "--option", "ram=32M", "--workers", "1", "-o", str(out)], capture_output=True, timeout=300,
                   check=True)
    rows = list(csv.DictReader(out.open()))
    assert [row["options"] for row in rows] == ['{"ns_per_insn": 10, "ram": "32M"}', '{"ns_per_insn": 5, "ram": "32M"}']
    # A faster CPU against the same NPU: the driver polls more instructions while the NPU works.
    assert int(rows[1]["instructions"]) > int(rows[0]["instructions"])
    assert rows[0]["console_sha256"] == rows[1]["console_sha256"]


def test_bad_axes_and_paths_fail_before_any_run(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "emu.cli", "sweep", str(FIRMWARE[0]), "--npu", "geometry.tiles=0"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("npuemu: ") and "geometry.tiles must be a positive" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "emu.cli", "sweep", str(FIRMWARE[0]), "--option", "ram=lots"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "--option ram=lots: bad size 'lots'" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "emu.cli", "sweep", str(FIRMWARE[0]), "-o", "/missing/t.csv"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "directory /missing does not exist" in bad.stderr


def test_parquet_table_holds_the_same_rows(tmp_path):
    parquet = pytest.importorskip("pyarrow.parquet", reason="Parquet is the optional extra npuemu[parquet]")
    args = [sys.executable, "-m", "emu.cli", "sweep", str(FIRMWARE[0]), "--npu", "geometry.tiles=4,16", "--workers", "1"]
    for out in ("t.csv", "t.parquet"):
        subprocess.run([*args, "-o", str(tmp_path / out)], capture_output=True, timeout=300, check=True)
    from_csv = list(csv.DictReader((tmp_path / "t.csv").open()))
    from_parquet = parquet.read_table(tmp_path / "t.parquet").to_pylist()
    assert [{key: str(value) for key, value in row.items()} for row in from_parquet] == from_csv
