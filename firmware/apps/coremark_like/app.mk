# A performance kernel: optimised like CoreMark builds are (the SDK default is -Og for debugging).
APP_CFLAGS += -O2
