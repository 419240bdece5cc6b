"""Issue 17 R2: the UART keeps a bounded window of its output; the whole stream goes to recorders."""

from __future__ import annotations

from asm import assemble

from emu import Machine, StopReason
from emu.devices.uart import OUTPUT_HISTORY

FLOOD = """
    li t0, 0x10000000
    li t1, 0x41
1:  sb t1, 0(t0)
    addi t1, t1, 1
    andi t1, t1, 0x7f
    ori t1, t1, 0x20
    j 1b
"""


def test_r2_a_uart_flood_keeps_a_bounded_history_and_streams_everything(tmp_path):
    """Reproducer: a firmware flooding the UART.  Memory stays bounded (history and snapshots),
    a recorder sees every byte in order, `output` is the tail of the stream."""
    m = Machine.from_elf(assemble(tmp_path, FLOOD), deterministic=True)
    recorded = bytearray()
    m.uart.add_recorder(recorded.extend)
    stop = m.run(max_insns=5 * 4 * OUTPUT_HISTORY)  # 5 instructions per byte: 4x the history
    assert stop.reason is StopReason.INSN_LIMIT
    assert m.uart.output_total == len(recorded) >= 3 * OUTPUT_HISTORY
    assert len(m.uart.output) == OUTPUT_HISTORY
    assert m.uart.output == bytes(recorded[-OUTPUT_HISTORY:])
    assert len(m.uart._history) < 2 * OUTPUT_HISTORY
    snap = m.snapshot()
    assert "output" not in str(sorted(snap.devices["uart0"]["fields"]))  # not device state
    m.uart.remove_recorder(recorded.extend)
    m.run(max_insns=100)
    assert len(recorded) == m.uart.output_total - 20
