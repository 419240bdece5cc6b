/* One include for the whole firmware SDK. */
#ifndef NPUEMU_SDK_H
#define NPUEMU_SDK_H

#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "csr.h"
#include "mmio.h"
#include "uart.h"
#include "clint.h"
#include "plic.h"
#include "trap.h"
#include "finisher.h"

#endif
