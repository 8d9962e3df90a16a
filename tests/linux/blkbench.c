/*
 * blkbench: Linux's side of the disk figures (tools/linuxbench --blk).
 * Runs as /init of an initramfs on Debian's kernel in the same virtual
 * machine Kestrel's blkbench uses (intel-iommu, a modern virtio block
 * device on a 64 MiB raw image): loads the virtio modules the initramfs
 * carries in /mod (in the order of the file /mod/order), mounts devtmpfs,
 * then writes 64 MiB to /dev/vda in 1 MiB O_DIRECT requests, fsyncs, and
 * reads them back, timing each with CLOCK_MONOTONIC.  Prints
 * "linuxblk write_ns N" and "linuxblk read_ns N" (or "linuxblk FAIL WHY")
 * and powers the machine off.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MIB (1 << 20)
#define DISK_MIB 64

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void end(const char *why)
{
    if (why)
        printf("linuxblk FAIL %s: %s\n", why, strerror(errno));
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    _exit(1);
}

static void load_modules(void)
{
    FILE *f = fopen("/mod/order", "r");
    char name[128], path[160];
    if (!f)
        end("/mod/order");
    while (fscanf(f, "%127s", name) == 1) {
        snprintf(path, sizeof(path), "/mod/%s", name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST))
            end(path);
        close(fd);
    }
    fclose(f);
}

int main(void)
{
    load_modules();
    mkdir("/dev", 0755);
    if (mount("devtmpfs", "/dev", "devtmpfs", 0, 0) < 0 && errno != EBUSY)
        end("mount devtmpfs");
    int fd = -1;
    for (int i = 0; i < 200 && fd < 0; i++) {     /* the disk is probed asynchronously */
        fd = open("/dev/vda", O_RDWR | O_DIRECT);
        if (fd < 0)
            usleep(10000);
    }
    if (fd < 0)
        end("/dev/vda");
    char *buf;
    if (posix_memalign((void **)&buf, 4096, MIB))
        end("memory");
    for (int i = 0; i < MIB; i++)
        buf[i] = (char)(i * 7);
    long long t0 = now_ns();
    for (int m = 0; m < DISK_MIB; m++)
        if (pwrite(fd, buf, MIB, (off_t)m * MIB) != MIB)
            end("write");
    if (fsync(fd) < 0)
        end("fsync");
    printf("linuxblk write_ns %lld\n", now_ns() - t0);
    t0 = now_ns();
    for (int m = 0; m < DISK_MIB; m++)
        if (pread(fd, buf, MIB, (off_t)m * MIB) != MIB)
            end("read");
    printf("linuxblk read_ns %lld\n", now_ns() - t0);
    end(NULL);
    return 0;
}
