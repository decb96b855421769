// SPDX-License-Identifier: GPL-2.0
/*
 * bch-subvol: create a bcachefs subvolume or snapshot through the 6.12
 * ioctl, for guests that have no bcachefs-tools.
 *
 *   bch-subvol create PATH         new empty subvolume at PATH
 *   bch-subvol snapshot SRC DST    snapshot of subvolume SRC at DST
 *
 * Build (static, so it runs from a bare initramfs):
 *   gcc -static -O2 -Wall -Wextra -o build/tools/bch-subvol <this file>
 *   aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -o build/tools/bch-subvol.arm64 <this file>
 * (tests/mount/run.sh builds it the same way for the guest's arch).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* From fs/bcachefs/bcachefs_ioctl.h (6.12) */
struct bch_ioctl_subvolume {
	uint32_t	flags;
	uint32_t	dirfd;
	uint16_t	mode;
	uint16_t	pad[3];
	uint64_t	dst_ptr;
	uint64_t	src_ptr;
};

#define BCH_IOCTL_SUBVOLUME_CREATE	_IOW(0xbc, 16, struct bch_ioctl_subvolume)
#define BCH_SUBVOL_SNAPSHOT_CREATE	(1U << 0)

static void usage(void)
{
	fprintf(stderr, "Usage: bch-subvol create PATH\n"
			"       bch-subvol snapshot SRC DST\n");
	exit(2);
}

/*
 * The ioctl must be issued on a file of the same filesystem; the kernel
 * resolves dst/src relative to dirfd, so use AT_FDCWD and pass the paths
 * as given, and open the parent directory of DST as the ioctl target.
 */
static int subvol_create(const char *src, const char *dst)
{
	struct bch_ioctl_subvolume arg;
	char *tmp = strdup(dst);
	char *parent;
	int fd;

	if (!tmp) {
		perror("strdup");
		return 1;
	}
	parent = dirname(tmp);
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "bch-subvol: cannot open %s: %s\n", parent, strerror(errno));
		free(tmp);
		return 1;
	}

	memset(&arg, 0, sizeof(arg));
	arg.dirfd	= (uint32_t)AT_FDCWD;
	arg.mode	= 0777;
	arg.dst_ptr	= (uintptr_t)dst;
	if (src) {
		arg.flags	= BCH_SUBVOL_SNAPSHOT_CREATE;
		arg.src_ptr	= (uintptr_t)src;
	}

	if (ioctl(fd, BCH_IOCTL_SUBVOLUME_CREATE, &arg) < 0) {
		fprintf(stderr, "bch-subvol: %s %s: %s\n",
			src ? "snapshot" : "create", dst, strerror(errno));
		close(fd);
		free(tmp);
		return 1;
	}
	close(fd);
	free(tmp);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "create"))
		return subvol_create(NULL, argv[2]);
	if (argc == 4 && !strcmp(argv[1], "snapshot"))
		return subvol_create(argv[2], argv[3]);
	usage();
	return 2;
}
