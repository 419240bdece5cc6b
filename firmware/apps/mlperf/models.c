/* The generated models and the generic runtime, compiled as one unit for this app. */
#include "npu_model.c"
#include "npu_softmax.c"
#include "ad01_model.c"
#include "kws_model.c"
#include "resnet_model.c"
#include "vww_model.c"
