"""DWARF for the debugger, through pyelftools: types (types.py), variables and location expressions
(location.py), call frame information (cfi.py), the per-ELF index of functions, scopes, inlined
calls, globals and line rows (info.py), and typed values printed as GDB prints them (values.py).

Nothing here knows the Machine: the debugger (emu/debugger/scope.py, frames.py, expr.py) supplies
registers and memory through small protocols, so these modules can be tested on an ELF alone.
"""
