/* A minimal, output-compatible subset of ThrowTheSwitch's Unity test framework (MIT).
 *
 * Written for npuemu (no package ships Unity's sources): the same macros and the same console
 * format, so tools that read Unity output (npuemu's dut.expect_unity_test_output(), Ceedling,
 * pytest-embedded) read this too:
 *     <file>:<line>:<test>:PASS
 *     <file>:<line>:<test>:FAIL: Expected 5 Was 4
 *     <file>:<line>:<test>:IGNORE[: message]
 *     -----------------------
 *     N Tests M Failures K Ignored
 *     OK | FAIL
 * Like Unity built with UNITY_EXCLUDE_SETJMP_H, a failing assertion returns from the test
 * function, so assertions belong in the test function itself. */
#ifndef NPUEMU_UNITY_H
#define NPUEMU_UNITY_H

#include <stdint.h>

void UnityBegin(const char *filename);
int UnityEnd(void);
void UnityDefaultTestRun(void (*func)(void), const char *name, int line);
int UnityAssertEqualNumber(int64_t expected, int64_t actual, const char *msg, int line, int hex);
int UnityFail(const char *msg, int line);
void UnityIgnore(const char *msg, int line);

/* The project's own fixtures, run around every test (Unity's names). */
void setUp(void);
void tearDown(void);

#define UNITY_BEGIN() UnityBegin(__FILE__)
#define UNITY_END() UnityEnd()
#define RUN_TEST(func) UnityDefaultTestRun(func, #func, __LINE__)

#define TEST_ASSERT_EQUAL_INT_MESSAGE(e, a, m) \
    do { if (!UnityAssertEqualNumber((int64_t)(e), (int64_t)(a), (m), __LINE__, 0)) return; } while (0)
#define TEST_ASSERT_EQUAL_INT(e, a) TEST_ASSERT_EQUAL_INT_MESSAGE(e, a, 0)
#define TEST_ASSERT_EQUAL(e, a) TEST_ASSERT_EQUAL_INT(e, a)
#define TEST_ASSERT_EQUAL_HEX32(e, a) \
    do { if (!UnityAssertEqualNumber((int64_t)(uint32_t)(e), (int64_t)(uint32_t)(a), 0, __LINE__, 1)) return; } while (0)
#define TEST_ASSERT_TRUE_MESSAGE(c, m) do { if (!(c)) { UnityFail((m) ? (m) : " Expected TRUE Was FALSE", __LINE__); return; } } while (0)
#define TEST_ASSERT_TRUE(c) TEST_ASSERT_TRUE_MESSAGE(c, 0)
#define TEST_ASSERT(c) TEST_ASSERT_TRUE(c)
#define TEST_FAIL_MESSAGE(m) do { UnityFail(m, __LINE__); return; } while (0)
#define TEST_IGNORE_MESSAGE(m) do { UnityIgnore(m, __LINE__); return; } while (0)
#define TEST_IGNORE() do { UnityIgnore(0, __LINE__); return; } while (0)

#endif
