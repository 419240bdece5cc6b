# kws: the MLPerf Tiny keyword-spotting DS-CNN compiled by `python -m emu.compiler` into
# build/firmware/gen/kws/ and run once on a built-in input (`make run DEMO=kws`).
KWS_GEN    := $(BUILD_DIR)/gen/kws
KWS_MODEL  ?= $(NPUEMU_MODELS)/kws_ref_model.tflite
NPU_COMPILE_PY ?= $(firstword $(wildcard $(FW_DIR)/../.venv/bin/python) python3)

ifeq ($(wildcard $(KWS_MODEL)),)
APP_SKIP := $(KWS_MODEL) not found (the MLPerf Tiny models: ../shared/models/mlperf-tiny or NPUEMU_MODELS=DIR)
else

APP_CFLAGS += -O2 -I$(KWS_GEN) -I$(FW_DIR)/runtime

$(KWS_GEN)/kws_model.c: $(KWS_MODEL) $(wildcard $(FW_DIR)/../emu/compiler/*.py $(FW_DIR)/../emu/npu_device/*.py)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  NPUCC $@")
	$(Q)$(NPU_COMPILE_PY) -m emu.compiler $< -o $(KWS_GEN) --name kws > /dev/null

$(foreach a,$(ARCHES),$(BUILD_DIR)/$(a)/obj/apps/kws/model.o $(BUILD_DIR)/$(a)/obj/apps/kws/main.o): \
    $(KWS_GEN)/kws_model.c
endif
