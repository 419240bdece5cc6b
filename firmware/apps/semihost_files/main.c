/* semihost_files: host file access through semihosting, for the confinement tests.
 * Reads input.txt, writes output.txt, then tries to escape the root with "../escape.txt" and an
 * absolute path.  Prints what succeeded, writes one line to stderr; exits 0. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void try_open(const char *name, const char *mode)
{
    FILE *f = fopen(name, mode);
    printf("open %s (%s): %s\n", name, mode, f ? "ok" : "denied");
    if (f)
        fclose(f);
}

int main(void)
{
    char line[64] = {0};
    FILE *in = fopen("input.txt", "r");
    if (in) {
        if (fgets(line, sizeof line, in))
            printf("input.txt says: %s", line);
        fclose(in);
    } else {
        printf("input.txt: cannot open\n");
    }
    FILE *out = fopen("output.txt", "w");
    if (out) {
        fputs("written by the firmware\n", out);
        fclose(out);
        printf("output.txt: written\n");
    } else {
        printf("output.txt: cannot open\n");
    }
    try_open("../escape.txt", "w");
    try_open("/etc/hostname", "r");
    /* POSIX write() to fd 2 goes through a ":tt" handle opened for stderr. */
    static const char msg[] = "semihost_files: to stderr through write(2)\n";
    write(2, msg, sizeof msg - 1);
    return 0;
}
