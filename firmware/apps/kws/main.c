/* kws: keyword spotting (MLPerf Tiny DS-CNN, int8) on the NPU through the compiled-model runtime.
 * The input is a fixed 49 x 10 feature map built into the firmware (no audio front end here);
 * the demo prints the memory plan, the 12 class probabilities and the per-layer cost measured by
 * the NPU counters next to the compiler's static estimate. */
#include "sdk.h"
#include "npu_model.h"
#include "kws_model.h"

static int8_t input[KWS_INPUT_BYTES];
static int8_t output[KWS_OUTPUT_BYTES];

/* A smooth, deterministic stand-in for MFCC features: a spectral slope plus a moving formant. */
static void make_features(void)
{
    for (int t = 0; t < 49; t++)
        for (int f = 0; f < 10; f++) {
            int formant = (t * 7 / 49 + 1) - f;
            int v = 60 - 9 * f + (formant >= -1 && formant <= 1 ? 40 : 0) - (t < 6 || t > 42 ? 50 : 0);
            input[t * 10 + f] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
        }
}

int main(void)
{
    make_features();
    int rc = npu_model_init(&kws_model);
    if (rc) {
        printf("kws: the model does not fit this NPU (error %d)\n", rc);
        return 1;
    }
    npu_model_print_plan(&kws_model);
    rc = npu_model_run(&kws_model, input, output);
    if (rc) {
        printf("kws: inference failed (%d)\n", rc);
        return 1;
    }
    npu_model_print_profile(&kws_model);
    int best = 0;
    printf("class probabilities (/256):");
    for (int c = 0; c < (int)KWS_OUTPUT_BYTES; c++) {
        printf(" %d", output[c] + 128);
        if (output[c] > output[best])
            best = c;
    }
    printf("\nkws: predicted class %d (p = %d/256)\n", best, output[best] + 128);
    return 0;
}
