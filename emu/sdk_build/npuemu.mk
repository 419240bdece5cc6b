# Makefile include of the installed npuemu firmware SDK:
#     include $(shell npuemu sdk --makefile)
# gives
#     NPUEMU_SDK                    the SDK directory (headers, crt0.S, link.ld, hal/, drivers/, ...)
#     $(call npuemu_apps,APPS,OUT)  a recipe line building every app directory under APPS into
#                                   OUT/rv32/<app>.elf and OUT/rv64/<app>.elf (the SDK's own rules)
#     NPUEMU_CFLAGS_rv32/_rv64, NPUEMU_LDFLAGS, NPUEMU_LIBS, NPUEMU_SOURCES_rv32/_rv64
#                                   for builds with rules of your own
# NPUEMU names the npuemu command (default: the one on PATH).
NPUEMU     ?= npuemu
NPUEMU_SDK := $(shell $(NPUEMU) sdk --path)
ifeq ($(NPUEMU_SDK),)
$(error `$(NPUEMU) sdk --path` failed: is npuemu installed in this environment?)
endif
npuemu_apps = $(MAKE) -f $(NPUEMU_SDK)/Makefile APPS_DIR=$(1) BUILD_DIR=$(2)

NPUEMU_CFLAGS_rv32   = $(shell $(NPUEMU) sdk --cflags --arch rv32)
NPUEMU_CFLAGS_rv64   = $(shell $(NPUEMU) sdk --cflags --arch rv64)
NPUEMU_LDFLAGS       = $(shell $(NPUEMU) sdk --ldflags)
NPUEMU_LIBS          = $(shell $(NPUEMU) sdk --libs)
NPUEMU_SOURCES_rv32  = $(shell $(NPUEMU) sdk --sources --arch rv32)
NPUEMU_SOURCES_rv64  = $(shell $(NPUEMU) sdk --sources --arch rv64)
