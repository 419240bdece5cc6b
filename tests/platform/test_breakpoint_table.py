"""The counter's breakpoint table with many entries: exact stops whatever the filter's hash says.

1000 breakpoints on halfwords the firmware never executes fill the table: executed instructions
whose filter bit collides with one of them go to the binary search, which must still say "no"
for them and "yes" for `main`, before main's first instruction runs.
"""

from __future__ import annotations

import pytest

from emu import Machine, StopReason


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_a_thousand_breakpoints_stop_exactly_where_one_does(firmware, arch):
    elf = firmware("hello", arch)
    one = Machine.from_elf(elf, deterministic=True)
    main = one.elf.lookup("main").addr
    one.add_breakpoint(main)
    first = one.run(max_insns=1_000_000)
    assert first.reason is StopReason.BREAKPOINT and first.pc == main

    many = Machine.from_elf(elf, deterministic=True)
    crowd = [0x8020_0000 + 2 * i for i in range(1000)]  # 2 MiB into RAM: beyond the image
    for addr in crowd:
        many.add_breakpoint(addr)
    many.add_breakpoint(main)
    stop = many.run(max_insns=1_000_000)
    assert stop.reason is StopReason.BREAKPOINT and stop.pc == main
    assert many.counter.count == one.counter.count  # the stop did not count main's instruction
    for addr in crowd:
        many.remove_breakpoint(addr)
    assert many.run(max_insns=10_000_000).reason is StopReason.EXITED
