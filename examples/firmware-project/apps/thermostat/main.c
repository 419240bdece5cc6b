/* thermostat: the example firmware project's app, a UART command loop around a tiny controller.
 * Commands, one per line: "set <deg>" (5..30) sets the target, "temp <deg>" reports a sensor
 * reading and switches the heater, "quit" exits with the number of rejected commands. */
#include "sdk.h"

volatile int target = 20;
volatile int heater_on;
volatile unsigned rejected;

static void read_line(char *buf, unsigned size)
{
    unsigned n = 0;
    for (;;) {
        int c = uart_getc();
        if (c == '\n' || c == '\r')
            break;
        if (n + 1 < size)
            buf[n++] = (char)c;
    }
    buf[n] = '\0';
}

static const char *after(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return s;
}

/* Decimal with an optional '-'; 0 when s is not exactly a number. */
static int parse_int(const char *s, int *out)
{
    int sign = 1, value = 0;
    if (*s == '-') {
        sign = -1;
        s++;
    }
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        value = value * 10 + (*s - '0');
    }
    *out = sign * value;
    return 1;
}

int main(void)
{
    char line[32];
    const char *arg;
    int value;
    printf("thermostat ready, target %d\n", target);
    for (;;) {
        printf("> ");
        read_line(line, sizeof line);
        if ((arg = after(line, "set ")) && parse_int(arg, &value) && value >= 5 && value <= 30) {
            target = value;
            printf("target %d\n", target);
        } else if ((arg = after(line, "temp ")) && parse_int(arg, &value)) {
            heater_on = value < target;
            printf("heater %s\n", heater_on ? "on" : "off");
        } else if (after(line, "quit")) {
            printf("bye, %u rejected\n", rejected);
            return (int)rejected;
        } else {
            rejected++;
            printf("error: bad command '%s'\n", line);
        }
    }
}
