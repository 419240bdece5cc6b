/* mlperf: the four MLPerf Tiny int8 models compiled by `npuemu compile`, run on inputs the host
 * writes into RAM (firmware/runtime/npu_model_runner.c; tests/tflite/test_mlperf_firmware.py). */
#include "ad01_model.h"
#include "kws_model.h"
#include "resnet_model.h"
#include "vww_model.h"

#define NPU_RUNNER_MODELS &ad01_model, &kws_model, &resnet_model, &vww_model
#define NPU_RUNNER_MAX_INPUTS 24u
#define NPU_RUNNER_MAX_IN_BYTES VWW_INPUT_BYTES
#define NPU_RUNNER_MAX_OUT_BYTES AD01_OUTPUT_BYTES

#include "npu_model_runner.c"
