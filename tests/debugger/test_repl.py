"""The prompt_toolkit REPL driven through a pipe input: commands, Enter repeats, Tab completion,
history, and the `main_debug` entry point (-ex, --batch, piped stdin)."""

from __future__ import annotations

import argparse
import threading
import time

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from emu.cli import _make_machine
from emu.debugger.completion import ShellCompleter
from emu.debugger.repl import Repl, history_path, main_debug


def _drive(session, keys: str, history=None) -> tuple[int, str]:
    """Type ``keys`` into a Repl; each Tab is followed by a pause, as a person's would be, so the
    (asynchronous) completion lands before the next key."""
    start = len(session.chunks)
    with create_pipe_input() as pipe:
        def typist() -> None:
            for i, part in enumerate(keys.split("\t")):
                if i:
                    pipe.send_text("\t")
                    time.sleep(0.3)
                pipe.send_text(part)

        thread = threading.Thread(target=typist)
        thread.start()
        code = Repl(session.shell, input=pipe, output=DummyOutput(),
                    history=history if history is not None else InMemoryHistory()).run()
        thread.join()
    return code, "".join(session.chunks[start:])


def test_commands_and_enter_repeats_next(debug) -> None:
    s = debug()
    code, out = _drive(s, "break main\nrun\nnext\n\n\nquit 3\n")
    assert code == 3
    assert "Breakpoint 1, main () at main.c:9" in out  # main's first instruction in -Og code, as GDB
    # three `next`s (the two Enters repeat it): 10 -> 11 -> 12 -> 11 (the loop goes back)
    assert "10\t    printf(\"Hello from npuemu firmware (rv%d)\\n\", XLEN);\n11\t    for (int i = 0; i < 5; i++)\n12\t" in out


def test_enter_repeats_x_and_stepi(debug) -> None:
    s = debug()
    addr = s.machine.elf.lookup("global_var").addr
    _, out = _drive(s, f"x/1xw {addr:#x}\n\nstepi\n\n\x04")  # Ctrl-D ends the session
    assert f"{addr:#x} <global_var>:\t0x0000002a" in out and f"{addr + 4:#x}" in out
    assert s.machine.insn_count == 2
    assert out.endswith("quit\n")


def test_tab_completes_commands_symbols_registers_files(debug, tmp_path) -> None:
    s = debug()
    _, out = _drive(s, "info reg\t a0\nbreak facto\t\nquit\n")
    assert out.startswith("a0 ")
    assert "Breakpoint 1 at" in out and "factorial" in s("info breakpoints")
    completer = ShellCompleter(s.shell)

    def words(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))]

    assert words("disas") == ["disassemble"]
    assert "stepi" in words("st") and "step" in words("st")
    assert words("info reg") == ["registers"]
    assert words("npu d") == ["dump"]
    assert words("p $mst") == ["$mstatus"]
    assert words("b main.") == ["main.c:"]
    assert words("tbreak *glob") == ["*global_var"]
    assert words("help bac") == ["backtrace"]
    (tmp_path / "script.gdb").write_text("p 1\n")
    assert words(f"source {tmp_path}/scr") == ["ipt.gdb"]
    assert words("frobnicate x") == []


def test_history_persists_in_the_state_dir(debug, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    path = history_path()
    assert path == tmp_path / "npuemu" / "history"
    s = debug()
    from emu.debugger.repl import _history

    _drive(s, "p 42\nquit\n", history=_history())
    assert "p 42" in path.read_text()
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_path() == tmp_path / ".npuemu_history"


def _opts(path, **extra) -> argparse.Namespace:
    base = dict(firmware=str(path), args=[], ram=128 << 20, deterministic=True, semihost_root=None,
                npu_config=None, batch=None, ex=[])
    base.update(extra)
    return argparse.Namespace(**base)


def test_main_debug_batch_and_ex(firmware, tmp_path, capfd) -> None:
    script = tmp_path / "cmds"
    script.write_text("run\nbt\np global_var\n")
    code = main_debug(_opts(firmware("hello"), batch=str(script), ex=["break add"]), _make_machine)
    out = capfd.readouterr().out
    assert code == 0
    assert "Breakpoint 1, add (a=42, b=8) at mathx.c" in out and "#1  0x" in out and "$1 = 42" in out
    script.write_text("p nosuch\n")
    assert main_debug(_opts(firmware("hello"), batch=str(script)), _make_machine) == 1
    assert main_debug(_opts(firmware("hello"), ex=["quit 7"]), _make_machine) == 7


def test_main_debug_reads_piped_stdin(firmware, capfd, monkeypatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("break main\nrun\np $pc\n"))
    assert main_debug(_opts(firmware("hello", "rv64")), _make_machine) == 0
    out = capfd.readouterr().out
    assert "Breakpoint 1, main () at main.c:9" in out and "<main>" in out
