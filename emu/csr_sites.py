"""Does the firmware read the instruction counters?  (Decides whether exact counting is worth it.)

The patched Unicorn serves ``cycle``/``instret`` natively from emu/_icount.c: exact when the
instruction-counter hook runs, derived from virtual time otherwise.  The hook costs CPU speed, so
the machine turns it on at load time only for firmware that measures itself with
``rdcycle``/``rdinstret`` (or mcycle/minstret).  The executable bytes are scanned for those CSR
instructions at any byte offset (a false positive only costs speed) with numpy, a few vector
passes over the code: a 64 MiB text segment takes tens of milliseconds, where a regular
expression took 0.7 s and the scan used to dominate loading a large ELF (issue 11).
"""

from __future__ import annotations

import numpy as np


def uses_insn_counters(code: bytes | bytearray | memoryview | np.ndarray) -> bool:
    """True when ``code`` holds an instruction that reads cycle/instret (or their m/h forms).

    ``csrr* rd, csr`` with csr in {0xC00, 0xC02, 0xB00, 0xB02} (+0x80 for the h halves), byte by
    byte: byte 0 = rd[0] << 7 | opcode 0x73; byte 1 holds funct3 in bits 4-6 (CSR access: 1-3,
    5-7, so bits 4-5 are not both zero); byte 2's high nibble is the CSR's low nibble (0 or 2);
    byte 3 = CSR >> 4 (0xC0, 0xC8, 0xB0, 0xB8)."""
    b = np.frombuffer(code, dtype=np.uint8) if not isinstance(code, np.ndarray) else code
    # In blocks (overlapping by 3 bytes): the temporaries stay in cache, and no page is faulted in
    # for them.
    for start in range(0, max(b.size - 3, 0), _BLOCK):
        if _has_counter_read(b[start : start + _BLOCK + 3]):
            return True
    return False


_BLOCK = 128 << 10  # fits L2: 14 ms CPU on 64 MiB, 25 ms whole-array, 58 ms with 512 KiB blocks


def _has_counter_read(b: np.ndarray) -> bool:
    at = np.flatnonzero((b[:-3] & 0x7F) == 0x73)  # candidate opcodes; rare outside CSR/system code
    at = at[(b[at + 1] & 0x30) != 0]
    at = at[(b[at + 2] & 0xD0) == 0]
    high = b[at + 3] & 0xF7
    return bool(np.any((high == 0xC0) | (high == 0xB0)))
