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

All state lives in fixtures and on the test items, so pytest-xdist workers share nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from emu.testing import FirmwareMachine, FirmwareSnapshot

MACHINES = pytest.StashKey[list["FirmwareMachine"]]()
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
    parser.addini("npuemu_firmware_dir", "directory relative ELF paths are resolved against "
                  "(relative to the ini file)", type="paths", default=[])
    parser.addini("npuemu_max_insns", "default instruction budget of run_until/expect", default="")
    parser.addini("npuemu_timeout", "default virtual-time limit of run_until/expect (seconds)", default="")
    parser.addini("npuemu_host_timeout", "host-time safety net of run_until/expect (seconds)", default="")
    parser.addini("npuemu_tail_lines", "console lines shown in failure reports", default="")


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
                "tail_lines": _setting(pytestconfig, "tail_lines", int)}
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
    """Failing tests get a section per machine they used: where the firmware is, its last console lines."""
    report = yield
    if report.failed:
        for machine in item.stash.get(MACHINES, []):
            lines = [f"pc: {machine.where(machine.pc)}"]
            if machine.last_trap is not None:
                lines.append(f"last trap: {machine.last_trap.describe()}")
            if machine.exited:
                lines.append(f"exited with status {machine.exit_code}")
            lines += ["", machine.uart.tail(machine.tail_lines) or "(no console output)"]
            report.sections.append((f"npuemu console: {machine.path.name}", "\n".join(lines)))
    return report
