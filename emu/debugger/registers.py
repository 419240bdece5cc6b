"""Register names the debugger offers: ABI names for ``info registers``, completion and ``$reg``.

The Machine accepts x0..x31, ABI names, ``pc``, ``priv`` and CSR names (its
``register_names()`` lists them); this module only knows which of them a
person wants to see first, and the GDB aliases (``$fp`` is ``s0``).
"""

from __future__ import annotations

ABI = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
       "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
       "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"]
# Machine-mode CSRs shown by a bare ``info registers``: what a firmware engineer checks after a trap.
MACHINE_CSRS = ["mstatus", "misa", "mie", "mip", "mtvec", "mscratch", "mepc", "mcause", "mtval", "mhartid"]
ALIASES = {"fp": "s0", **{f"x{i}": name for i, name in enumerate(ABI)}}
# Registers whose value is an address: printed with ``<symbol+off>`` like GDB does for pc and ra.
CODE_POINTERS = {"pc", "ra", "mepc", "mtvec", "sepc", "stvec"}
PRIV_NAMES = {0: "user", 1: "supervisor", 3: "machine"}


def canonical(name: str) -> str:
    """``fp`` -> ``s0``, ``x10`` -> ``a0``; other names unchanged (lower-cased)."""
    name = name.lower()
    return ALIASES.get(name, name)
