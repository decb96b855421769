// SPDX-License-Identifier: GPL-2.0
/*
 * bch-spray: the JIT-spray attempt of the mount test. Writes N 4 KiB
 * blocks at every other block from sector BASE of a sparse file, so the
 * extents btree gets nodes holding only this file's extents, whose key
 * format's offset field starts just above BASE. With BASE chosen so that
 * its bytes carry ENDBR64 (f3 0f 1e fa), that offset is what the format
 * puts in the immediates of the unpacker compiled for such a node.
 *
 *   bch-spray write FILE BASE N     write the blocks (content depends on i)
 *   bch-spray verify FILE BASE N    read them back and compare
 *
 * Build (static), as tests/mount/run.sh does for the guest's arch:
 *   gcc -static -O2 -Wall -Wextra -o bch-spray <this file>
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK		4096
#define STRIDE_SECTORS	16	/* a block, then a hole of a block */

static void fill(unsigned char *buf, unsigned long i)
{
	unsigned int j;

	for (j = 0; j < BLOCK; j++)
		buf[j] = (unsigned char)(i * 131 + j * 7 + (j >> 8));
}

int main(int argc, char **argv)
{
	unsigned char buf[BLOCK], want[BLOCK];
	unsigned long long base;
	unsigned long n, i;
	int write_mode, fd;

	if (argc != 5 || (strcmp(argv[1], "write") && strcmp(argv[1], "verify"))) {
		fprintf(stderr, "usage: bch-spray write|verify FILE BASE_SECTOR N\n");
		return 2;
	}
	write_mode = !strcmp(argv[1], "write");
	base = strtoull(argv[3], NULL, 0);
	n = strtoul(argv[4], NULL, 0);
	fd = open(argv[2], write_mode ? O_RDWR | O_CREAT : O_RDONLY, 0644);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	for (i = 0; i < n; i++) {
		off_t off = (off_t)((base + i * STRIDE_SECTORS) * 512);

		fill(want, i);
		if (write_mode) {
			if (pwrite(fd, want, BLOCK, off) != BLOCK) {
				perror("pwrite");
				return 1;
			}
			continue;
		}
		if (pread(fd, buf, BLOCK, off) != BLOCK || memcmp(buf, want, BLOCK)) {
			fprintf(stderr, "bch-spray: block %lu differs\n", i);
			return 1;
		}
	}
	if (write_mode && fsync(fd)) {
		perror("fsync");
		return 1;
	}
	printf("bch-spray: %s %lu blocks from sector %#llx\n", argv[1], n, base);
	return close(fd) ? 1 : 0;
}
