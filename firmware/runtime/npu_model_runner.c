/* A main() that runs compiled models on inputs the host puts in RAM, so one ELF serves every input:
 * the host (tests/tflite, or a debugger) stops at main, writes tfl_model, tfl_count and
 * tfl_inputs, runs to the exit and reads tfl_outputs. Prints the memory plan and the per-layer
 * profile of the first inference. Include it after defining
 *   NPU_RUNNER_MODELS          the model pointers, comma-separated
 *   NPU_RUNNER_MAX_INPUTS      inputs per boot
 *   NPU_RUNNER_MAX_IN_BYTES    largest input, NPU_RUNNER_MAX_OUT_BYTES largest output. */
#include "sdk.h"
#include "npu_model.h"

static const npu_model_t *const runner_models[] = {NPU_RUNNER_MODELS};

volatile uint32_t tfl_model;        /* index into the model list */
volatile uint32_t tfl_count;        /* inputs in tfl_inputs (0: one all-zero input) */
volatile uint32_t tfl_profile = 1;  /* measure per layer; print the profile of the first inference */
int8_t tfl_inputs[NPU_RUNNER_MAX_INPUTS * NPU_RUNNER_MAX_IN_BYTES];
int8_t tfl_outputs[NPU_RUNNER_MAX_INPUTS * NPU_RUNNER_MAX_OUT_BYTES];

int main(void)
{
    uint32_t which = tfl_model, count = tfl_count ? tfl_count : 1;
    if (which >= sizeof runner_models / sizeof runner_models[0] || count > NPU_RUNNER_MAX_INPUTS) {
        printf("runner: bad request (model %lu, %lu inputs)\n", (unsigned long)which, (unsigned long)count);
        return 2;
    }
    const npu_model_t *m = runner_models[which];
    int rc = npu_model_init(m);
    if (rc) {
        printf("runner: %s does not fit this NPU (error %d)\n", m->name, rc);
        return 3;
    }
    npu_model_print_plan(m);
    npu_model_set_profiling(tfl_profile != 0);
    for (uint32_t i = 0; i < count; i++) {
        rc = npu_model_run(m, tfl_inputs + i * m->in_bytes, tfl_outputs + i * m->out_bytes);
        if (rc) {
            printf("runner: inference %lu failed (%d)\n", (unsigned long)i, rc);
            return 4;
        }
        if (i == 0 && tfl_profile)
            npu_model_print_profile(m);
    }
    printf("runner: %s, %lu inferences done\n", m->name, (unsigned long)count);
    return 0;
}
