# kws: the MLPerf Tiny keyword-spotting DS-CNN compiled by `python -m emu.compiler` into
# build/firmware/gen/kws/ and run once on a built-in input (`make run DEMO=kws`).
KWS_GEN    := $(BUILD_DIR)/gen/kws
KWS_MODEL  ?= $(FW_DIR)/../../shared/models/mlperf-tiny/kws_ref_model.tflite
NPU_COMPILE_PY ?= $(firstword $(wildcard $(FW_DIR)/../.venv/bin/python) python3)

ifeq ($(wildcard $(KWS_MODEL)),)
$(error kws: $(KWS_MODEL) not found: the MLPerf Tiny models live in ../shared/models/mlperf-tiny (set KWS_MODEL=...))
endif

APP_CFLAGS += -O2 -I$(KWS_GEN) -I$(FW_DIR)/runtime

$(KWS_GEN)/kws_model.c: $(KWS_MODEL) $(wildcard $(FW_DIR)/../emu/compiler/*.py $(FW_DIR)/../emu/npu_device/*.py)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  NPUCC $@")
	$(Q)$(NPU_COMPILE_PY) -m emu.compiler $< -o $(KWS_GEN) --name kws > /dev/null

$(foreach a,$(ARCHES),$(BUILD_DIR)/$(a)/obj/apps/kws/model.o $(BUILD_DIR)/$(a)/obj/apps/kws/main.o): \
    $(KWS_GEN)/kws_model.c
