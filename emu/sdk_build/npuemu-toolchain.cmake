# CMake toolchain file of the npuemu firmware SDK:
#     cmake -G Ninja -DCMAKE_TOOLCHAIN_FILE=$(npuemu sdk --cmake) -DNPUEMU_ARCH=rv32 -S . -B build
# then, in CMakeLists.txt (project(... C ASM)):
#     npuemu_add_firmware(app main.c other.c)   # an ELF linked with crt0, the HAL, drivers, link.ld
# The flags come from `npuemu sdk` (the SDK's Makefile is their one definition).
# NPUEMU_ARCH: rv32 (default) or rv64; RISCV_PREFIX: compiler prefix (default riscv64-unknown-elf-).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv)
if(NOT NPUEMU_ARCH)
  set(NPUEMU_ARCH rv32)
endif()
if(NOT RISCV_PREFIX)
  set(RISCV_PREFIX riscv64-unknown-elf-)
endif()
if(NOT NPUEMU_EXECUTABLE)
  find_program(NPUEMU_EXECUTABLE npuemu REQUIRED)
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES NPUEMU_ARCH RISCV_PREFIX NPUEMU_EXECUTABLE)

function(_npuemu_sdk out)
  execute_process(COMMAND ${NPUEMU_EXECUTABLE} sdk ${ARGN} --arch ${NPUEMU_ARCH}
                  OUTPUT_VARIABLE value OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "`${NPUEMU_EXECUTABLE} sdk ${ARGN}` failed")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

_npuemu_sdk(NPUEMU_CFLAGS --cflags)
_npuemu_sdk(NPUEMU_LDFLAGS --ldflags)
_npuemu_sdk(NPUEMU_LIBS --libs)
_npuemu_sdk(NPUEMU_SOURCES --sources)
separate_arguments(NPUEMU_SOURCES UNIX_COMMAND "${NPUEMU_SOURCES}")
separate_arguments(NPUEMU_LIBS UNIX_COMMAND "${NPUEMU_LIBS}")

set(CMAKE_C_COMPILER ${RISCV_PREFIX}gcc)
set(CMAKE_ASM_COMPILER ${RISCV_PREFIX}gcc)
set(CMAKE_C_FLAGS_INIT "${NPUEMU_CFLAGS} -g -Og")
set(CMAKE_ASM_FLAGS_INIT "${NPUEMU_CFLAGS} -g")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${NPUEMU_LDFLAGS}")
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)  # no crt0/link.ld yet when CMake probes the compiler

function(npuemu_add_firmware name)
  add_executable(${name} ${ARGN} ${NPUEMU_SOURCES})
  set_target_properties(${name} PROPERTIES SUFFIX ".elf")
  target_link_libraries(${name} PRIVATE ${NPUEMU_LIBS})
endfunction()
