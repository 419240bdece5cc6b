"""The README's firmware-test example, verbatim: it must keep working."""

def test_hello(npuemu_boot):
    machine = npuemu_boot("build/firmware/rv32/hello.elf")   # deterministic by default
    machine.run_until(symbol="main")                        # a temporary breakpoint
    machine.uart.expect(r"add\(42, 8\) = (\d+)")             # runs until the console matches
    machine.run_until(exit=0)
    assert machine.read_symbol("global_var") == 170          # sized from the symbol table
