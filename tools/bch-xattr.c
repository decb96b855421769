// SPDX-License-Identifier: GPL-2.0
/*
 * bch-xattr: minimal setfattr/getfattr for guests whose busybox has neither.
 *
 *   bch-xattr set PATH NAME VALUE    setxattr(2)
 *   bch-xattr get PATH NAME          getxattr(2), value printed on stdout
 *   bch-xattr list PATH              listxattr(2), one name a line
 *   bch-xattr dump PATH...           "PATH NAME=LEN:FNV1A64" per xattr, names
 *                                    sorted: one process for a whole manifest
 *
 * Build (static):
 *   gcc -static -O2 -Wall -Wextra -o build/tools/bch-xattr <this file>
 *   aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -o build/tools/bch-xattr.arm64 <this file>
 * (tests/mount/run.sh builds it the same way for the guest's arch).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define XATTR_MAX	65536

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* FNV-1a 64: enough to notice a changed value, no crypto needed */
static unsigned long long fnv1a(const char *p, size_t n)
{
	unsigned long long h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= (unsigned char)*p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int dump(const char *path)
{
	static char names[XATTR_MAX], val[XATTR_MAX];
	char *v[XATTR_MAX / 2];
	ssize_t n, len;
	int nr = 0, ret = 0;

	n = llistxattr(path, names, sizeof(names));
	if (n < 0) {
		fprintf(stderr, "bch-xattr: list %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (ssize_t i = 0; i < n; i += strlen(names + i) + 1)
		v[nr++] = names + i;
	qsort(v, nr, sizeof(v[0]), cmp_str);
	for (int i = 0; i < nr; i++) {
		len = lgetxattr(path, v[i], val, sizeof(val));
		if (len < 0) {
			fprintf(stderr, "bch-xattr: get %s %s: %s\n",
				path, v[i], strerror(errno));
			ret = 1;
			continue;
		}
		printf("%s %s=%zd:%016llx\n", path, v[i], len, fnv1a(val, len));
	}
	return ret;
}

static void usage(void)
{
	fprintf(stderr, "Usage: bch-xattr set PATH NAME VALUE\n"
			"       bch-xattr get PATH NAME\n"
			"       bch-xattr list PATH\n"
			"       bch-xattr dump PATH...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static char buf[XATTR_MAX];
	ssize_t n;

	if (argc == 5 && !strcmp(argv[1], "set")) {
		if (setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0)) {
			fprintf(stderr, "bch-xattr: set %s %s: %s\n",
				argv[2], argv[3], strerror(errno));
			return 1;
		}
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "get")) {
		n = getxattr(argv[2], argv[3], buf, sizeof(buf));
		if (n < 0) {
			fprintf(stderr, "bch-xattr: get %s %s: %s\n",
				argv[2], argv[3], strerror(errno));
			return 1;
		}
		fwrite(buf, 1, n, stdout);
		putchar('\n');
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "list")) {
		n = listxattr(argv[2], buf, sizeof(buf));
		if (n < 0) {
			fprintf(stderr, "bch-xattr: list %s: %s\n",
				argv[2], strerror(errno));
			return 1;
		}
		for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1)
			printf("%s\n", buf + i);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "dump")) {
		int ret = 0;

		for (int i = 2; i < argc; i++)
			ret |= dump(argv[i]);
		return ret;
	}
	usage();
	return 2;
}
