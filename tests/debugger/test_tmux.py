"""`npuemu debug` in a real terminal (tmux): the prompt, Tab completion, Ctrl-C on a running
firmware, persistent history and quitting."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NPUEMU = ROOT / ".venv" / "bin" / "npuemu"

pytestmark = pytest.mark.tmux


class Tmux:
    """One tmux server on a private socket (parallel workers never share one)."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed: run `make setup`", pytrace=False)
        self.socket = f"npuemu-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True,
                              text=True, timeout=10).stdout

    def start(self, command: str, env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # The pane outlives npuemu so its exit status and last words can be read.
        self.tmux("new-session", "-d", "-x", "160", "-y", "50", "-s", "t",
                  f"cd {shlex.quote(str(ROOT))} && env {exports} {command}; echo EXIT=$?; sleep 60")

    def send(self, *keys: str) -> None:
        """Key names: "Enter", "Tab", "C-c"."""
        self.tmux("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        """Literal text (``delete`` would otherwise be the Delete key)."""
        self.tmux("send-keys", "-t", "t", "-l", text)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t", "-S", "-200")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear; the screen shows:\n{self.screen()}")

    def wait_count(self, text: str, count: int, timeout: float = 20.0) -> str:
        """Wait until ``text`` is on the screen ``count`` times (a second stop, a second prompt)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear {count} times; the screen shows:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux():
    t = Tmux()
    yield t
    t.kill()


def test_tab_completion_ctrl_c_and_history(tmux, firmware, tmp_path) -> None:
    spin = firmware("spin")
    tmux.start(f"{NPUEMU} debug {shlex.quote(str(spin))}",
               {"HOME": str(tmp_path), "XDG_STATE_HOME": "", "TERM": "xterm-256color"})
    tmux.wait_for("(npuemu)")
    tmux.type("b ma")
    tmux.send("Tab")
    tmux.wait_for("(npuemu) b main")
    tmux.send("Enter")
    tmux.wait_for("Breakpoint 1 at 0x")
    tmux.type("run")
    tmux.send("Enter")
    tmux.wait_for("Breakpoint 1, main () at main.c")
    tmux.type("delete")
    tmux.send("Enter")
    tmux.type("continue")
    tmux.send("Enter")
    tmux.wait_for("Continuing.")
    tmux.wait_for("spin: looping forever")
    time.sleep(1.0)
    tmux.send("C-c")
    screen = tmux.wait_for("Program received signal SIGINT, Interrupt.")
    tmux.wait_for("(npuemu)", timeout=5)
    assert "Traceback" not in screen
    assert "^C(npuemu)" not in tmux.screen()  # the prompt comes back only after the stop report
    tmux.type("p spin_count")
    tmux.send("Enter")
    screen = tmux.wait_for("$1 = ")
    count = int(screen.split("$1 = ")[1].split()[0])
    assert count > 0
    tmux.type("info reg")
    tmux.send("Tab")
    tmux.wait_for("(npuemu) info registers")
    tmux.type(" pc")
    tmux.send("Enter")
    tmux.wait_for("<main+")
    tmux.type("continue")  # it runs on after Ctrl-C: the machine was not harmed
    tmux.send("Enter")
    time.sleep(0.5)
    tmux.send("C-c")
    tmux.wait_count("Program received signal SIGINT, Interrupt.", 2)
    tmux.type("p spin_count")
    tmux.send("Enter")
    screen = tmux.wait_for("$2 = ")
    assert int(screen.split("$2 = ")[1].split()[0]) > count
    tmux.type("quit")
    tmux.send("Enter")
    tmux.wait_for("EXIT=0")
    history = (tmp_path / ".npuemu_history").read_text()
    assert "p spin_count" in history and "info registers pc" in history
