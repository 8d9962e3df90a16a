/*
 * faults.h: between the fault-injection campaign (tests/user/faults.c:
 * the faults, the driver's lives, the summary) and the checked workload
 * it runs under (faults_blk.c: the block driver through lib/bdev;
 * faults_net.c: two network drivers on one wire through lib/netdev).
 * One program a workload (bin/faults, bin/netfaults), the campaign the
 * same in both.
 *
 * The workload's threads count what was served in faults_progress (the
 * campaign waits on it to tell a driver that serves from one that does
 * not), a wrong result in faults_data_errors and a failed call with
 * faults_io_error; they stop when faults_done is set.
 */
#ifndef KESTREL_TESTS_FAULTS_H
#define KESTREL_TESTS_FAULTS_H

#include <stdbool.h>
#include <stdint.h>

#define FAULTS_MS 1000000L
#define FAULTS_BACK_MS 20000           /* a driver not serving again after this: not recovered */

extern volatile long faults_progress;
extern volatile int faults_done;
extern long faults_data_errors;

void faults_io_error(long r);
/* The campaign's random numbers (seeded by its arguments). */
uint64_t faults_rnd(void);
/* The deaths the supervisor counted of service NAME (by a fault, hung,
 * otherwise, complained of), or -1 if it has no such service. */
long faults_deaths(const char *name);

struct faults_workload {
    const char *driver;            /* the faulted driver's service, unless argv says */
    /* Opens sessions, does a first checked pass with a driver that has no
     * fault and starts the threads: 0, or the program's exit status. */
    int (*start)(const char *driver);
    /* The threads joined (faults_done is set). */
    void (*stop)(void);
    /* With the driver restarted clean: a last checked pass; false if it
     * served nothing. */
    bool (*final_check)(void);
    /* Its part of the detail line (" key=value"...). */
    void (*detail)(void);
    /* Optional: says what it sees of a hang the supervisor did not catch. */
    void (*hung)(void);
    const char *what;              /* for the first line: "3 workers over 256 KiB each" */
};

extern const struct faults_workload faults_workload;

#endif
