# picolibc with its own crt0 and linker script, talking to the host through semihosting.
# Code and read-only data at 0x8000_0000 (4 MiB), RAM after it (rest of the 128 MiB DRAM).
APP_SDK     := 0
# (the link command also gets APP_CFLAGS, so the specs file is named once)
APP_CFLAGS  += --specs=picolibc.specs
APP_LDFLAGS += --crt0=semihost --oslib=semihost \
               -Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x400000 \
               -Wl,--defsym=__ram=0x80400000 -Wl,--defsym=__ram_size=0x7c00000 \
               -Wl,--defsym=__stack_size=0x10000
