# The debugger's DWARF tests need dbgtest's code optimised too: location lists, inlining, no frame
# set-up in leaves.
APP_CFLAGS += -O2
