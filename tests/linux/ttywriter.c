/*
 * ttywriter: lines written to the console (the tty server over the UART
 * driver) while bootimage/tests/uartkill.manifest's controller restarts
 * the driver.  Every write must succeed (the terminal reconnects and
 * goes on); the log shows which lines reached the line.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    int errors = 0;
    char line[64];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(line, sizeof(line), "tty-line %03d\n", i);
        if (write(1, line, (size_t)n) != n)
            errors++;
        struct timespec ts = { 0, 5 * 1000000 };
        nanosleep(&ts, 0);
    }
    struct timespec ts = { 0, 300 * 1000000 };
    nanosleep(&ts, 0);                         /* the last lines leave the driver */
    snprintf(line, sizeof(line), "tty-writer: DONE errors=%d\n", errors);
    write(1, line, strlen(line));
    nanosleep(&ts, 0);
    return errors != 0;
}
