/* The generated keyword-spotting model and the generic runtime, compiled as one unit. */
#include "npu_model.c"
#include "npu_softmax.c"
#include "kws_model.c"
