# mlperf: the four MLPerf Tiny int8 models compiled by `python -m emu.compiler` (docs/compiler.md)
# into build/firmware/gen/mlperf/, linked with the generic runtime (firmware/runtime/).
MLPERF_GEN    := $(BUILD_DIR)/gen/mlperf
MLPERF_MODELS ?= $(NPUEMU_MODELS)
NPU_COMPILE_PY ?= $(firstword $(wildcard $(FW_DIR)/../.venv/bin/python) python3)
MLPERF_SRCS   := ad01:ad01_int8 kws:kws_ref_model resnet:pretrainedResnet_quant vww:vww_96_int8
COMPILER_SRCS := $(wildcard $(FW_DIR)/../emu/compiler/*.py $(FW_DIR)/../emu/npu_device/*.py)

ifeq ($(wildcard $(MLPERF_MODELS)/ad01_int8.tflite),)
APP_SKIP := $(MLPERF_MODELS)/ad01_int8.tflite not found (the MLPerf Tiny models: ../shared/models/mlperf-tiny or NPUEMU_MODELS=DIR)
else

APP_CFLAGS += -O2 -I$(MLPERF_GEN) -I$(FW_DIR)/runtime

define mlperf_model
$(MLPERF_GEN)/$(1)_model.c: $(MLPERF_MODELS)/$(2).tflite $(COMPILER_SRCS)
	@mkdir -p $$(@D)
	@$(if $(Q),echo "  NPUCC $$@")
	$(Q)$(NPU_COMPILE_PY) -m emu.compiler $$< -o $(MLPERF_GEN) --name $(1) > /dev/null
endef
$(foreach s,$(MLPERF_SRCS),$(eval $(call mlperf_model,$(word 1,$(subst :, ,$(s))),$(word 2,$(subst :, ,$(s))))))

$(foreach a,$(ARCHES),$(BUILD_DIR)/$(a)/obj/apps/mlperf/models.o $(BUILD_DIR)/$(a)/obj/apps/mlperf/main.o): \
    $(foreach s,$(MLPERF_SRCS),$(MLPERF_GEN)/$(word 1,$(subst :, ,$(s)))_model.c)
endif
