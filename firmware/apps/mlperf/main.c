/* mlperf: run the MLPerf Tiny int8 models compiled by `npuemu compile` on inputs the host puts
 * in RAM (tests/tflite: break at main, write tfl_model, tfl_count and tfl_inputs, run to the exit,
 * read tfl_outputs), so one ELF serves every input. Prints the memory plan and, for the first
 * inference, the per-layer profile from the NPU counters next to the compile-time estimate. */
#include "sdk.h"
#include "npu_model.h"
#include "ad01_model.h"
#include "kws_model.h"
#include "resnet_model.h"
#include "vww_model.h"

#define MAX_INPUTS 24u
#define MAX_IN_BYTES VWW_INPUT_BYTES
#define MAX_OUT_BYTES AD01_OUTPUT_BYTES

static const npu_model_t *const models[] = {&ad01_model, &kws_model, &resnet_model, &vww_model};

/* Written by the host before main runs its loop. */
volatile uint32_t tfl_model;          /* index into models[] */
volatile uint32_t tfl_count;          /* inputs in tfl_inputs (0: one all-zero input) */
volatile uint32_t tfl_profile = 1;    /* print the per-layer profile of the first inference */
int8_t tfl_inputs[MAX_INPUTS * MAX_IN_BYTES];
int8_t tfl_outputs[MAX_INPUTS * MAX_OUT_BYTES];

int main(void)
{
    uint32_t which = tfl_model, count = tfl_count ? tfl_count : 1;
    if (which >= sizeof models / sizeof models[0] || count > MAX_INPUTS) {
        printf("mlperf: bad request (model %lu, %lu inputs)\n", (unsigned long)which, (unsigned long)count);
        return 2;
    }
    const npu_model_t *m = models[which];
    int rc = npu_model_init(m);
    if (rc) {
        printf("mlperf: %s does not fit this NPU (error %d)\n", m->name, rc);
        return 3;
    }
    npu_model_print_plan(m);
    for (uint32_t i = 0; i < count; i++) {
        rc = npu_model_run(m, tfl_inputs + i * m->in_bytes, tfl_outputs + i * m->out_bytes);
        if (rc) {
            printf("mlperf: inference %lu failed (%d)\n", (unsigned long)i, rc);
            return 4;
        }
        if (i == 0 && tfl_profile)
            npu_model_print_profile(m);
    }
    printf("mlperf: %s, %lu inferences done\n", m->name, (unsigned long)count);
    return 0;
}
