/* dbgtest_o2: dbgtest's source built at -O2 (see ../dbgtest/main.c and app.mk). */
#include "../dbgtest/main.c"
