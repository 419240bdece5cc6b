/* hello: the first app to boot; also the debugger's and gdb's test subject. */
#include "sdk.h"
#include "mathx.h"

int global_var = 42;
volatile unsigned counter;

int main(void)
{
    printf("Hello from npuemu firmware (rv%d)\n", XLEN);
    for (int i = 0; i < 5; i++)
        counter++;
    int sum = add(global_var, 8);
    int fact = factorial(5);
    global_var = sum + fact;
    printf("add(42, 8) = %d, factorial(5) = %d\n", sum, fact);
    printf("global_var = %d, counter = %u\n", global_var, counter);
    printf("bye\n");
    return 0;
}
