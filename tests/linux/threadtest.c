/*
 * threadtest: threads in the Linux personality (musl-gcc -static,
 * pthreads): mutexes and condition variables over futexes, join through
 * the clear-child-tid wake, thread-local storage, a thread blocked in a
 * read while another writes, timed waits, and hostile futex calls.
 * "linux-thread: ok WHAT" / "FAIL WHAT", then "ALL PASSED".
 */
#include <errno.h>
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int failed;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int turn, rounds_done;
static __thread int tls_value;
static pid_t tids[4];
static int pipefd[2];

static void check(int ok, const char *what)
{
    printf("linux-thread: %s %s\n", ok ? "ok" : "FAIL", what);
    fflush(stdout);
    failed |= !ok;
}

static void *adder(void *arg)
{
    long n = (long)arg;
    tls_value = (int)n + 100;
    tids[n] = (pid_t)syscall(SYS_gettid);
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&mu);
        counter++;
        pthread_mutex_unlock(&mu);
    }
    return (void *)(long)(tls_value == (int)n + 100 ? n * 10 : -1);
}

static void *pong(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&mu);
        while (turn != 1)
            pthread_cond_wait(&cv, &mu);
        turn = 0;
        rounds_done++;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
    }
    return 0;
}

static void *reader(void *arg)
{
    (void)arg;
    char buf[8] = { 0 };
    ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
    return (void *)(long)(n == 5 && strcmp(buf, "hello") == 0);
}

int main(void)
{
    tls_value = 7;
    pthread_t t[4];
    int made = 0;
    for (long i = 0; i < 4; i++)
        made += pthread_create(&t[i], 0, adder, (void *)i) == 0;
    check(made == 4, "four threads made");
    long sum = 0;
    int joined = 0;
    for (int i = 0; i < 4; i++) {
        void *r = 0;
        joined += pthread_join(t[i], &r) == 0;
        sum += (long)r;
    }
    check(joined == 4 && sum == 60, "joined, each with its own result and thread-local value");
    check(counter == 20000, "a mutex keeps 20,000 increments from four threads");
    check(tls_value == 7, "the main thread's thread-local value is its own");
    pid_t me = (pid_t)syscall(SYS_gettid);
    check(me == getpid(), "the main thread's tid is the pid");
    check(tids[0] && tids[0] != me && tids[0] != tids[1] && tids[2] != tids[3],
          "each thread has its own tid");

    pthread_t p;
    pthread_create(&p, 0, pong, 0);
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&mu);
        turn = 1;
        pthread_cond_signal(&cv);
        while (turn != 0)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
    }
    pthread_join(p, 0);
    check(rounds_done == 200, "a condition variable: 200 rounds of ping-pong");

    check(pipe(pipefd) == 0, "pipe");
    pthread_t rd;
    pthread_create(&rd, 0, reader, 0);
    struct timespec ts = { 0, 50 * 1000000 };
    nanosleep(&ts, 0);                          /* the reader waits in read() */
    write(pipefd[1], "hello", 5);
    void *ok = 0;
    pthread_join(rd, &ok);
    check(ok == (void *)1, "a thread blocked in read gets what another writes");

    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 50 * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&mu);
    int r = pthread_cond_timedwait(&cv, &mu, &until);
    pthread_mutex_unlock(&mu);
    check(r == ETIMEDOUT, "a timed wait times out");

    /* Hostile futex calls. */
    errno = 0;
    check(syscall(SYS_futex, (int *)8, FUTEX_WAIT, 0, 0, 0, 0) == -1 && errno == EFAULT,
          "futex on a bad address: EFAULT");
    int word = 5;
    errno = 0;
    check(syscall(SYS_futex, &word, FUTEX_WAIT, 6, 0, 0, 0) == -1 && errno == EAGAIN,
          "futex wait on a changed word: EAGAIN");
    check(syscall(SYS_futex, &word, FUTEX_WAKE, 1, 0, 0, 0) == 0, "a wake with no waiter: 0");
    errno = 0;
    check(syscall(SYS_futex, &word, 99, 0, 0, 0, 0) == -1 && errno == ENOSYS,
          "an unknown futex operation: ENOSYS");

    if (!failed)
        printf("linux-thread: ALL PASSED\n");
    return failed;
}
