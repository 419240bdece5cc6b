/* semihost: picolibc over RISC-V semihosting. Prints argc/argv on stdout, a line on stderr, and
 * exits with status 3, or N when an argument "exit=N" is given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int status = 3;
    printf("semihost: hello from picolibc (rv%d)\n", __riscv_xlen);
    printf("argc = %d\n", argc);
    for (int i = 0; i < argc; i++) {
        printf("argv[%d] = \"%s\"\n", i, argv[i]);
        if (strncmp(argv[i], "exit=", 5) == 0)
            status = atoi(argv[i] + 5);
    }
    fprintf(stderr, "semihost: this line goes to stderr\n");
    printf("semihost: exiting with %d\n", status);
    return status;
}
