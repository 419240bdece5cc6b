/* Small functions in a second file so gdb `step` has somewhere to go. */
#include "mathx.h"

int add(int a, int b)
{
    int result = a + b;
    return result;
}

int factorial(int n)
{
    if (n <= 1)
        return 1;
    return n * factorial(n - 1);
}
