/* unity_demo: five Unity test cases of SDK code, one failing on purpose, one ignored.
 * The plugin's dut.expect_unity_test_output() turns each case into a pytest result; the exit
 * status is the number of failures (1), on npuemu and on QEMU alike. */
#include "sdk.h"
#include "string.h"
#include "unity.h"

static char buf[32];

void setUp(void)
{
    memset(buf, 0, sizeof buf);
}

void tearDown(void) {}

static void test_snprintf_formats_decimal(void)
{
    snprintf(buf, sizeof buf, "%d/%u", -42, 7u);
    TEST_ASSERT_EQUAL_INT(0, strcmp(buf, "-42/7"));
}

static void test_snprintf_truncates(void)
{
    int n = snprintf(buf, 4, "%s", "abcdef");
    TEST_ASSERT_EQUAL_INT(6, n);
    TEST_ASSERT_EQUAL_INT(3, (int)strlen(buf));
}

static void test_mtime_advances(void)
{
    uint64_t t0 = clint_mtime();
    for (volatile int i = 0; i < 1000; i++) {
    }
    TEST_ASSERT_TRUE(clint_mtime() > t0);
}

static void test_deliberately_failing(void)
{
    TEST_ASSERT_EQUAL_INT(5, 2 + 2);   /* fails on purpose: Unity reports Expected 5 Was 4 */
}

static void test_ignored_until_later(void)
{
    TEST_IGNORE_MESSAGE("not on this platform");
}

int main(void)
{
    UNITY_BEGIN();
    RUN_TEST(test_snprintf_formats_decimal);
    RUN_TEST(test_snprintf_truncates);
    RUN_TEST(test_mtime_advances);
    RUN_TEST(test_deliberately_failing);
    RUN_TEST(test_ignored_until_later);
    return UNITY_END();
}
