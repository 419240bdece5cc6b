"""pytest plugin ``npuemu`` (entry point ``pytest11``): boot firmware on npuemu from plain pytest tests.

Installing npuemu is all a firmware repository needs: the fixtures below appear in every pytest
run.  Because of that this module imports nothing heavy; :mod:`emu.testing` (and Unicorn) load
the first time a test boots a machine.

Fixtures
  ``npuemu_boot(elf, args=(), ram=None, deterministic=True, ...)``  a fresh machine per call,
      closed after the test.
  ``npuemu_warm_boot(elf, setup=fn, ...)``  boots and runs ``setup`` once per worker process,
      snapshots, and restores that snapshot for every test: fast set-up.
  ``npuemu_firmware_dir``  where relative ELF paths point; override it in a conftest.py.
  ``dut``  the firmware of ``@pytest.mark.npuemu_firmware("app.elf", **boot_options)`` (or of
      an indirect parametrization) as a :class:`emu.dut.Dut`: ``expect``/``expect_exact``/
      ``expect_line``/``expect_no``/``expect_unity_test_output``/``write``/``expect_exit``, on
      the backend of ``--npuemu-backend`` (npuemu, or QEMU for differential runs).

Every test's full console log goes into its JUnit ``<system-out>``; Unity cases parsed by
``expect_unity_test_output`` become pytest results of their own; ``--npuemu-shard i/n`` keeps
every n-th test for CI matrices.

All state lives in fixtures and on the test items, so pytest-xdist workers share nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from emu.coverage import CoverageCollector
    from emu.dut import Dut
    from emu.testing import FirmwareMachine, FirmwareSnapshot

MACHINES = pytest.StashKey[list["FirmwareMachine"]]()
DUTS = pytest.StashKey[list["Dut"]]()
COVERAGE = pytest.StashKey[list[tuple["CoverageCollector", Any]]]()
MERGED_COVERAGE = "merged.info"
Boot = Callable[..., "FirmwareMachine"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("npuemu", "firmware tests on the npuemu emulator")
    group.addoption("--npuemu-firmware-dir", metavar="DIR", default=None,
                    help="directory that relative ELF paths are resolved against "
                         "(default: ini npuemu_firmware_dir, else the rootdir)")
    group.addoption("--npuemu-max-insns", metavar="N", type=int, default=None,
                    help="instruction budget of each run_until/expect (default: 50000000)")
    group.addoption("--npuemu-timeout", metavar="SECONDS", type=float, default=None,
                    help="virtual-time limit of each run_until/expect, in emulated seconds (default: 10)")
    group.addoption("--npuemu-host-timeout", metavar="SECONDS", type=float, default=None,
                    help="host-time safety net of each run_until/expect, against hangs (default: 120)")
    group.addoption("--npuemu-tail-lines", metavar="N", type=int, default=None,
                    help="console lines shown in failure reports (default: 20)")
    group.addoption("--npuemu-backend", choices=("npuemu", "qemu"), default=None,
                    help="what the `dut` fixture runs the firmware on: npuemu (default) or QEMU "
                         "(console and exit only, host-time timeouts) for differential checks")
    group.addoption("--npuemu-shard", metavar="I/N", type=_shard, default=None,
                    help="run only shard I of N (1-based; every N-th test in collection order), "
                         "for CI matrices")
    group.addoption("--npuemu-fault-seed", metavar="N", type=int, default=None,
                    help="seed of the random choices of machine.faults (default 0): same seed, same run")
    group.addoption("--npuemu-update-baselines", action="store_true", default=False,
                    help="profile.assert_within() rewrites its baseline files instead of comparing")
    group.addoption("--npuemu-coverage", metavar="DIR", default=None,
                    help="write firmware line/function coverage (lcov .info, genhtml renders it) per test "
                         f"into DIR, and all of it added up into DIR/{MERGED_COVERAGE}")
    parser.addini("npuemu_backend", "backend of the `dut` fixture: npuemu or qemu", default="")
    parser.addini("npuemu_firmware_dir", "directory relative ELF paths are resolved against "
                  "(relative to the ini file)", type="paths", default=[])
    parser.addini("npuemu_max_insns", "default instruction budget of run_until/expect", default="")
    parser.addini("npuemu_timeout", "default virtual-time limit of run_until/expect (seconds)", default="")
    parser.addini("npuemu_host_timeout", "host-time safety net of run_until/expect (seconds)", default="")
    parser.addini("npuemu_tail_lines", "console lines shown in failure reports", default="")


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise pytest.UsageError(f"--npuemu-shard {text!r}: expected I/N, e.g. 2/4") from None
    if not 1 <= shard[0] <= shard[1]:
        raise pytest.UsageError(f"--npuemu-shard {text!r}: I must be between 1 and N")
    return shard


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "npuemu_firmware(elf, **boot_options): the firmware the `dut` "
                            "fixture boots (an ELF path, relative to npuemu_firmware_dir)")
    config.pluginmanager.register(_ConsoleToJunit(config), "npuemu-junit-console")
    if config.getoption("npuemu_update_baselines", False):
        import os

        from emu.profile import UPDATE_ENV  # light: no Unicorn at import

        os.environ[UPDATE_ENV] = "1"  # xdist workers run this hook too
    coverage = config.getoption("npuemu_coverage", None)
    if coverage and not hasattr(config, "workerinput"):  # the controller starts from an empty directory
        directory = Path(coverage)
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.info"):
            old.unlink()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """``--npuemu-coverage``: the controller adds the per-test tracefiles up into merged.info."""
    coverage = session.config.getoption("npuemu_coverage", None)
    if not coverage or hasattr(session.config, "workerinput"):
        return
    from emu.coverage import merge_tracefiles

    directory = Path(coverage)
    parts = sorted(p for p in directory.glob("*.info") if p.name != MERGED_COVERAGE)
    if parts:
        (directory / MERGED_COVERAGE).write_text(merge_tracefiles(parts))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--npuemu-shard i/n``: keep items i-1, i-1+n, ... (the same split on every xdist worker)."""
    shard = config.getoption("npuemu_shard")
    if shard is None:
        return
    index, count = shard
    keep = [item for position, item in enumerate(items) if position % count == index - 1]
    dropped = [item for position, item in enumerate(items) if position % count != index - 1]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


def _setting(config: pytest.Config, name: str, kind: type) -> Any:
    """A command-line option, else its ini value, else None (emu.testing's default applies)."""
    value = config.getoption(f"npuemu_{name}")
    if value is None and config.getini(f"npuemu_{name}"):
        value = kind(config.getini(f"npuemu_{name}"))
    return value


@pytest.fixture(scope="session")
def npuemu_firmware_dir(pytestconfig: pytest.Config) -> Path:
    """Base directory of relative ELF paths; a conftest.py may override this fixture."""
    option = pytestconfig.getoption("npuemu_firmware_dir")
    if option is not None:
        return (pytestconfig.invocation_params.dir / option).resolve()
    ini = pytestconfig.getini("npuemu_firmware_dir")
    return Path(ini[0]) if ini else pytestconfig.rootpath


@pytest.fixture(scope="session")
def npuemu_defaults(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Boot options every machine gets unless the test passes its own (from the CLI/ini)."""
    settings = {"max_insns": _setting(pytestconfig, "max_insns", int),
                "timeout": _setting(pytestconfig, "timeout", float),
                "host_timeout": _setting(pytestconfig, "host_timeout", float),
                "tail_lines": _setting(pytestconfig, "tail_lines", int),
                "fault_seed": pytestconfig.getoption("npuemu_fault_seed")}
    return {key: value for key, value in settings.items() if value is not None}


def _resolve(elf: str | Path, base: Path) -> Path:
    path = base / elf
    if not path.is_file():
        pytest.fail(f"firmware ELF not found: {path}\n(relative paths start at {base}: "
                    "--npuemu-firmware-dir / ini npuemu_firmware_dir / fixture npuemu_firmware_dir; "
                    "build the firmware first)", pytrace=False)
    return path


def _track(item: pytest.Item, machine: FirmwareMachine) -> None:
    """Remember the machines a test used, for the console section of its failure report."""
    machines = item.stash.setdefault(MACHINES, [])
    if machine not in machines:
        machines.append(machine)
        if item.config.getoption("npuemu_coverage", None):
            from collections import Counter

            from emu.coverage import CoverageCollector

            collector = machine.__dict__.get("coverage_collector")
            if collector is None:  # one per machine; a warm-booted machine keeps its own across tests
                collector = machine.__dict__["coverage_collector"] = CoverageCollector(machine.machine)
            item.stash.setdefault(COVERAGE, []).append((collector, Counter(collector.blocks)))


@pytest.fixture
def npuemu_boot(request: pytest.FixtureRequest, npuemu_firmware_dir: Path,
                npuemu_defaults: dict[str, Any]) -> Generator[Boot]:
    """``npuemu_boot("app.elf", args=..., ram="64M", deterministic=True)`` -> a booted FirmwareMachine."""
    from emu.testing import FirmwareMachine

    booted: list[FirmwareMachine] = []

    def boot(elf: str | Path, **options: Any) -> FirmwareMachine:
        machine = FirmwareMachine(_resolve(elf, npuemu_firmware_dir), **{**npuemu_defaults, **options})
        booted.append(machine)
        _track(request.node, machine)
        return machine

    yield boot
    for machine in booted:
        machine.close()


@pytest.fixture
def dut(request: pytest.FixtureRequest, npuemu_firmware_dir: Path,
        npuemu_defaults: dict[str, Any]) -> Generator[Dut]:
    """The firmware of the test's ``npuemu_firmware`` marker (or ``request.param``) on the chosen backend."""
    from emu.dut import NpuemuDut, QemuDut
    from emu.testing import FirmwareMachine

    marker = request.node.get_closest_marker("npuemu_firmware")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        elf = marker.args[0]
    elif hasattr(request, "param"):
        elf = request.param
    else:
        raise pytest.UsageError("the dut fixture needs @pytest.mark.npuemu_firmware(\"app.elf\") or an indirect "
                                "parametrization with the ELF path")
    path = _resolve(elf, npuemu_firmware_dir)
    backend = request.config.getoption("npuemu_backend") or request.config.getini("npuemu_backend") or "npuemu"
    options = {**npuemu_defaults, **options}
    if backend == "qemu":
        device: Dut = QemuDut(path, **options)
    elif backend == "npuemu":
        machine = FirmwareMachine(path, **options)
        _track(request.node, machine)
        device = NpuemuDut(machine)
    else:
        raise pytest.UsageError(f"npuemu_backend = {backend!r}: expected npuemu or qemu")
    request.node.stash.setdefault(DUTS, []).append(device)
    yield device
    device.close()


@pytest.fixture(scope="session")
def _npuemu_warm_cache() -> Generator[dict[tuple, tuple[FirmwareMachine, FirmwareSnapshot]]]:
    cache: dict[tuple, tuple[FirmwareMachine, FirmwareSnapshot]] = {}
    yield cache
    for machine, _ in cache.values():
        machine.close()


@pytest.fixture
def npuemu_warm_boot(request: pytest.FixtureRequest, npuemu_firmware_dir: Path, npuemu_defaults: dict[str, Any],
                     _npuemu_warm_cache: dict[tuple, tuple[FirmwareMachine, FirmwareSnapshot]]) -> Boot:
    """``npuemu_warm_boot("app.elf", setup=fn, **boot_options)`` -> a machine in its post-``setup`` state.

    The first call in a worker boots and runs ``setup(machine)`` (e.g. up to ``main``); later
    calls restore the snapshot taken then, in milliseconds.  The cache key is the ELF, the
    options and the ``setup`` object itself: pass a module-level function, not a new lambda.
    """
    from emu.testing import FirmwareMachine

    def warm_boot(elf: str | Path, *, setup: Callable[[FirmwareMachine], object] | None = None,
                  **options: Any) -> FirmwareMachine:
        path = _resolve(elf, npuemu_firmware_dir)
        options = {**npuemu_defaults, **options}
        key = (path, path.stat().st_mtime_ns, setup, repr(sorted(options.items())))
        if key in _npuemu_warm_cache:
            machine, snap = _npuemu_warm_cache[key]
            machine.clear_debug_points()  # the previous test's breakpoints are not part of the state
            machine.restore(snap)
            _track(request.node, machine)
        else:
            machine = FirmwareMachine(path, **options)
            _track(request.node, machine)
            try:
                if setup is not None:
                    setup(machine)
            except BaseException:
                machine.close()
                raise
            _npuemu_warm_cache[key] = (machine, machine.snapshot())
        return machine

    return warm_boot


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Failing tests get a section per machine they used: where the firmware is, its last console lines.

    Every call report also carries the full console of each machine (``npuemu_console``, plain
    data so it crosses xdist) for the JUnit XML, and Unity cases become reports of their own.
    """
    report = yield
    machines = item.stash.get(MACHINES, [])
    duts = item.stash.get(DUTS, [])
    if report.failed:
        for machine in machines:
            lines = [f"pc: {machine.where(machine.pc)}"]
            if machine.last_trap is not None:
                lines.append(f"last trap: {machine.last_trap.describe()}")
            if machine.exited:
                lines.append(f"exited with status {machine.exit_code}")
            lines += ["", machine.uart.tail(machine.tail_lines) or "(no console output)"]
            report.sections.append((f"npuemu console: {machine.path.name}", "\n".join(lines)))
        for device in duts:
            if device.backend == "qemu":
                report.sections.append((f"qemu console: {device.path.name}",
                                        device.tail(device.tail_lines) or "(no console output)"))
    if call.when == "call" or (call.when == "setup" and report.failed):
        consoles = [(m.path.name, m.uart.output.decode("utf-8", "replace")) for m in machines]
        consoles += [(f"{d.path.name} (qemu)", d.text) for d in duts if d.backend == "qemu"]
        if consoles:
            report.npuemu_console = consoles
    if call.when == "call" and item.stash.get(COVERAGE, None):
        _write_coverage(item)
    if call.when == "call":
        runs = [run for device in duts for run in device.unity_runs]
        if runs and report.passed:
            report.npuemu_unity_container = True  # its cases are the results (pytest_report_teststatus)
        for run in runs:
            _log_unity_cases(item, run)
    return report


def _write_coverage(item: pytest.Item) -> None:
    """This test's share of each machine's coverage (counts since the test took the machine)."""
    directory = Path(item.config.getoption("npuemu_coverage"))
    stem = re.sub(r"[^\w.-]+", "_", item.nodeid).strip("_")
    for index, (collector, baseline) in enumerate(item.stash[COVERAGE]):
        suffix = f"-{index}" if index else ""
        (directory / f"{stem}{suffix}.info").write_text(collector.tracefile(item.nodeid, since=baseline))


def _log_unity_cases(item: pytest.Item, run: Any) -> None:
    """One call report (and a teardown report, which closes the JUnit test case) per Unity case."""
    from _pytest.reports import TestReport

    path, _, domain = item.location
    for case in run.cases:
        where = f"{case.file}:{case.line}"
        longrepr: Any = None
        if case.outcome == "failed":
            longrepr = f"{where}: {case.name}: {case.message or 'FAIL'}"
        elif case.outcome == "skipped":
            longrepr = (case.file, case.line, f"Unity IGNORE: {case.message}" if case.message else "Unity IGNORE")
        for when, outcome, detail in (("call", case.outcome, longrepr), ("teardown", "passed", None)):
            report = TestReport(f"{item.nodeid}::{case.name}", (path, case.line - 1, f"{domain}::{case.name}"),
                                {case.name: 1}, outcome, detail, when)
            _log_extra_report(item, report)


def _log_extra_report(item: pytest.Item, report: pytest.TestReport) -> None:
    """Log a report of a result that is not a collected item (a Unity case).

    An xdist worker insists that every report it forwards belongs to the item it runs, so there
    the report goes to the controller the way the worker sends its own (its ``testreport``
    event); the controller logs it like any other.
    """
    worker = next((plugin for plugin in item.config.pluginmanager.get_plugins()
                   if type(plugin).__name__ == "WorkerInteractor"), None)
    if worker is None:
        item.ihook.pytest_runtest_logreport(report=report)
        return
    data = item.config.hook.pytest_report_to_serializable(config=item.config, report=report)
    data.update(item_index=worker.item_index, worker_id=worker.workerid, testrun_uid=worker.testrunuid)
    worker.sendevent("testreport", data=data)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """A passing test that ran Unity cases is not counted itself: its cases are."""
    if report.when == "call" and getattr(report, "npuemu_unity_container", False):
        return "", "", ""
    return None


class _ConsoleToJunit:
    """Puts the full console log of every machine a test used into its JUnit test case's system-out."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from _pytest.junitxml import bin_xml_escape, xml_key

        consoles = getattr(report, "npuemu_console", None)
        xml = self.config.stash.get(xml_key, None)  # the --junitxml writer, when there is one
        if not consoles or xml is None:
            return
        import xml.etree.ElementTree as ET

        node = ET.Element("system-out")
        node.text = bin_xml_escape("".join(f"===== npuemu console: {name} =====\n{content}\n"
                                           for name, content in consoles))
        xml.node_reporter(report).append(node)
