# dbgtest: -O0 (the last -O wins over the SDK's -Og); dbgtest_o2 builds the same source at -O2.
APP_CFLAGS += -O0
