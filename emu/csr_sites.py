"""Does the firmware read the instruction counters?  (Decides whether exact counting is worth it.)

The patched Unicorn serves ``cycle``/``instret`` natively from emu/_icount.c: exact when the
instruction-counter hook runs, derived from virtual time otherwise.  The hook costs CPU speed, so
the machine turns it on at load time only for firmware that measures itself with
``rdcycle``/``rdinstret`` (or mcycle/minstret).  A regular expression over the executable bytes
finds those CSR instructions at C speed (any byte offset: a false positive only costs speed).
"""

from __future__ import annotations

import re

# csrr* rd, {cycle,instret,mcycle,minstret}[h]: byte 0 = rd[0] | opcode 0x73; byte 1 holds funct3
# (1-3, 5-7: not 0 or 4); byte 2's high nibble is the CSR's low nibble (0 or 2); byte 3 = CSR >> 4.
_COUNTER_READ = re.compile(
    rb"[\x73\xf3][\x10-\x3f\x50-\x7f\x90-\xbf\xd0-\xff][\x00-\x0f\x20-\x2f][\xc0\xc8\xb0\xb8]")
COUNTER_CSRS = {"cycle": 0xC00, "time": 0xC01, "mtime": 0xC01, "instret": 0xC02, "mcycle": 0xB00,
                "minstret": 0xB02}


def uses_insn_counters(code: bytes) -> bool:
    """True when ``code`` holds an instruction that reads cycle/instret (or their m/h forms)."""
    return _COUNTER_READ.search(code) is not None
