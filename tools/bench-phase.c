// SPDX-License-Identifier: GPL-2.0
/*
 * bench-phase: run one timed phase of make bench-kernel inside the guest.
 *
 *   bench-phase NAME COMMAND [ARG...]
 *
 * Reads the guest clock and CPU 0's idle and iowait times from
 * /proc/timer_list (ktime "now", tick_sched idle_sleeptime and
 * iowait_sleeptime, all in ns; needs CONFIG_NO_HZ_IDLE for the idle
 * times), runs COMMAND (its stdout to /dev/null), reads them again and
 * prints
 *
 *   BENCH-PHASE NAME wall=NS busy=NS idle=NS rc=N
 *
 * Under qemu -icount shift=0 the guest clock advances one ns per guest
 * instruction while the vCPU runs, and with the host's real time while it
 * is halted (waiting for the disk, say), so busy = wall - idle - iowait is
 * the number of guest instructions the phase took, independent of the
 * host. One vCPU: CPU 0 is the only one.
 *
 * Build (static): gcc -static -O2 -Wall -Wextra -o bench-phase <this file>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct snap {
	unsigned long long now, idle, iowait;
};

static int snap(struct snap *s)
{
	static char buf[1 << 16];
	unsigned long long v;
	FILE *f = fopen("/proc/timer_list", "r");
	int cpu = -1, have = 0;

	if (!f)
		return -1;
	memset(s, 0, sizeof(*s));
	while (fgets(buf, sizeof(buf), f)) {
		if (sscanf(buf, "now at %llu nsecs", &v) == 1) {
			s->now = v;
			have |= 1;
		} else if (sscanf(buf, "cpu: %d", &cpu) == 1) {
			continue;
		} else if (cpu == 0 && strchr(buf, ':') &&
			   sscanf(strchr(buf, ':') + 1, "%llu", &v) == 1) {
			/* "  .idle_sleeptime : N nsecs", names padded to 15 */
			if (strstr(buf, ".idle_sleeptime")) {
				s->idle = v;
				have |= 2;
			} else if (strstr(buf, ".iowait_sleeptime")) {
				s->iowait = v;
				have |= 4;
			}
		}
	}
	fclose(f);
	return have == 7 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct snap a, b;
	unsigned long long wall, idle;
	int status, rc;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: bench-phase NAME COMMAND [ARG...]\n");
		return 2;
	}
	if (snap(&a)) {
		fprintf(stderr, "bench-phase: no idle times in /proc/timer_list (NO_HZ_IDLE?)\n");
		return 2;
	}
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		/* the listing phases' output is not what is measured */
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0)
			dup2(fd, 1);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "bench-phase: exec %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 2;
	if (snap(&b))
		return 2;
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	wall = b.now - a.now;
	idle = (b.idle - a.idle) + (b.iowait - a.iowait);
	printf("BENCH-PHASE %s wall=%llu busy=%llu idle=%llu rc=%d\n", argv[1],
	       wall, wall > idle ? wall - idle : 0, idle, rc);
	fflush(stdout);
	return rc;
}
