/* Unity-compatible test runner core: counts and prints results in Unity's exact format. */
#include "sdk.h"
#include "unity.h"

static struct {
    const char *file;
    const char *test;
    int test_line;
    unsigned tests, failures, ignored;
    int current_failed, current_ignored;
} unity;

static void result_begin(int line)
{
    printf("%s:%d:%s:", unity.file, line, unity.test);
}

void UnityBegin(const char *filename)
{
    unity.file = filename;
    unity.tests = unity.failures = unity.ignored = 0;
}

void UnityDefaultTestRun(void (*func)(void), const char *name, int line)
{
    unity.test = name;
    unity.test_line = line;
    unity.current_failed = unity.current_ignored = 0;
    unity.tests++;
    setUp();
    func();
    tearDown();
    if (unity.current_ignored) {
        unity.ignored++;
    } else if (unity.current_failed) {
        unity.failures++;
    } else {
        result_begin(unity.test_line);
        printf("PASS\n");
    }
}

int UnityAssertEqualNumber(int64_t expected, int64_t actual, const char *msg, int line, int hex)
{
    if (expected == actual)
        return 1;
    result_begin(line);
    if (hex)
        printf("FAIL: Expected 0x%08lX Was 0x%08lX", (unsigned long)expected, (unsigned long)actual);
    else
        printf("FAIL: Expected %ld Was %ld", (long)expected, (long)actual);
    if (msg)
        printf(". %s", msg);
    printf("\n");
    unity.current_failed = 1;
    return 0;
}

int UnityFail(const char *msg, int line)
{
    result_begin(line);
    printf("FAIL:%s%s\n", msg[0] == ' ' ? "" : " ", msg);
    unity.current_failed = 1;
    return 0;
}

void UnityIgnore(const char *msg, int line)
{
    result_begin(line);
    if (msg)
        printf("IGNORE: %s\n", msg);
    else
        printf("IGNORE\n");
    unity.current_ignored = 1;
}

int UnityEnd(void)
{
    printf("\n-----------------------\n%u Tests %u Failures %u Ignored \n%s\n", unity.tests, unity.failures,
           unity.ignored, unity.failures ? "FAIL" : "OK");
    return (int)unity.failures;
}
