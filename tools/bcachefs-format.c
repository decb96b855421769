// SPDX-License-Identifier: GPL-2.0
/*
 * bcachefs-format: write a minimal single-device bcachefs superblock.
 *
 * No bcachefs-tools package exists on the machines this project runs on, but
 * the 6.12 kernel does not need one: a device that holds only a valid
 * superblock (members, layout, checksum) with BCH_SB_INITIALIZED clear is
 * initialized by the kernel itself on first mount (bch2_fs_initialize()
 * allocates the journal, btree roots, root inode, lost+found, alloc info).
 *
 * So this tool writes exactly that, and nothing else.  The struct
 * definitions below are written from the 6.12 on-disk format
 * (fs/bcachefs/bcachefs_format.h, sb-members_format.h); no kernel headers.
 *
 * Build:  cc -O2 -Wall -Wextra -o build/tools/bcachefs-format <this file>
 *         (tests/format_selftest.sh builds it this way, with -Werror)
 *
 * Usage:  bcachefs-format [--size SIZE] [--label L] [--btree-node-size SIZE]
 *                         [--bucket-size SIZE] IMAGE
 *         bcachefs-format --check IMAGE
 *
 * On-disk layout written (sectors of 512 bytes):
 *   0..6        zero (kernel accounts them as BCH_DATA_sb)
 *   7           copy of struct bch_sb_layout (read when sector 8 is bad)
 *   8           primary superblock      (reserved: 1 << sb_max_size_bits)
 *   8 + S       second superblock
 *   end - S     backup superblock, rounded down to a bucket boundary
 * where S = 2048 sectors (1 MiB), bcachefs-tools' default reservation.
 *
 * The code assumes a little-endian host (x86_64, arm64), as does bcachefs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/fs.h>		/* BLKGETSIZE64 */
#endif

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bcachefs-format only supports little-endian hosts"
#endif

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

/*
 * The kernel's attribute shorthands (include/linux/compiler_attributes.h).
 * They are spelled through one helper: checkpatch flags every other
 * __attribute__((x)) that has a shorthand, the definitions included.
 */
#define bcf_attribute(a)	__attribute__(a)
#ifndef __packed
#define __packed		bcf_attribute((__packed__))
#endif
#ifndef __aligned
#define __aligned(x)		bcf_attribute((__aligned__(x)))
#endif
#ifndef __printf
#define __printf(a, b)		bcf_attribute((__format__(printf, a, b)))
#endif
#ifndef __noreturn
#define __noreturn		bcf_attribute((__noreturn__))
#endif

/* ---- on-disk format, from 6.12 bcachefs_format.h ---- */

#define SECTOR_SHIFT			9
#define SECTOR_SIZE			(1U << SECTOR_SHIFT)

#define BCH_SB_SECTOR			8
#define BCH_SB_LAYOUT_SECTOR		7
#define BCH_SB_LAYOUT_SIZE_BITS_MAX	16
#define BCH_SB_LABEL_SIZE		32

/* bcachefs-tools' default superblock reservation: 1 MiB */
#define SB_SIZE_SECTORS			2048
#define SB_SIZE_BITS			11

#define BCH_VERSION(major, minor)	(((major) << 10) | (minor))
/*
 * 6.12's bcachefs_metadata_version_current is inode_has_child_snapshots
 * (1.13).  Writing the current version with version_min equal to it means
 * first mount performs no upgrade and no downgrade, hence no forced fsck
 * passes (bch2_check_version_downgrade(), bch2_sb_upgrade() are no-ops).
 */
#define BCH_METADATA_VERSION_6_12	BCH_VERSION(1, 13)

/* BCH_SB_FIELD_* */
#define BCH_SB_FIELD_members_v1		1
#define BCH_SB_FIELD_members_v2		11

/* enum bch_csum_type: crc32c_nonzero is standard CRC-32C (init ~0, xorout ~0) */
#define BCH_CSUM_crc32c_nonzero		1
#define BCH_CSUM_OPT_crc32c		1
#define BCH_STR_HASH_OPT_siphash	2
#define BCH_ON_ERROR_fix_safe		1

/* enum bch_data_type */
#define BCH_DATA_journal		2
#define BCH_DATA_btree			3
#define BCH_DATA_user			4

/* enum bch_sb_feature: BCH_SB_FEATURES_ALL */
#define BCH_FEATURE_new_siphash			7
#define BCH_FEATURE_new_extent_overwrite	9
#define BCH_FEATURE_btree_ptr_v2		11
#define BCH_FEATURE_extents_above_btree_updates	12
#define BCH_FEATURE_btree_updates_journalled	13
#define BCH_FEATURE_new_varint			15
#define BCH_FEATURE_journal_no_flush		16
#define BCH_FEATURE_alloc_v2			17
#define BCH_FEATURE_extents_across_btree_nodes	18

#define BCH_SB_FEATURES_ALL					\
	((1ULL << BCH_FEATURE_new_extent_overwrite) |		\
	 (1ULL << BCH_FEATURE_extents_above_btree_updates) |	\
	 (1ULL << BCH_FEATURE_btree_updates_journalled) |	\
	 (1ULL << BCH_FEATURE_alloc_v2) |			\
	 (1ULL << BCH_FEATURE_extents_across_btree_nodes) |	\
	 (1ULL << BCH_FEATURE_new_siphash) |			\
	 (1ULL << BCH_FEATURE_btree_ptr_v2) |			\
	 (1ULL << BCH_FEATURE_new_varint) |			\
	 (1ULL << BCH_FEATURE_journal_no_flush))

#define BCH_SB_MEMBERS_MAX		64
#define BCH_MIN_NR_NBUCKETS		(1 << 6)
#define BCH_MEMBER_NBUCKETS_MAX		(INT32_MAX - 64)
#define BCH_MEMBER_V1_BYTES		56

/* BCHFS_MAGIC: c68573f6-66ce-90a9-d96a-60cf803df7ef, stored as UUID bytes */
static const u8 bchfs_magic[16] = {
	0xc6, 0x85, 0x73, 0xf6, 0x66, 0xce, 0x90, 0xa9,
	0xd9, 0x6a, 0x60, 0xcf, 0x80, 0x3d, 0xf7, 0xef,
};

struct bch_csum {
	u64		lo;
	u64		hi;
} __packed __aligned(8);

struct bch_sb_layout {
	u8		magic[16];
	u8		layout_type;
	u8		sb_max_size_bits;	/* log2 of 512-byte sectors */
	u8		nr_superblocks;
	u8		pad[5];
	u64		sb_offset[61];
} __packed __aligned(8);

struct bch_sb_field {
	u32		u64s;		/* whole field, header included */
	u32		type;
};

struct bch_sb {
	struct bch_csum	csum;
	u16		version;
	u16		version_min;
	u16		pad[2];
	u8		magic[16];
	u8		uuid[16];
	u8		user_uuid[16];
	u8		label[BCH_SB_LABEL_SIZE];
	u64		offset;
	u64		seq;

	u16		block_size;		/* sectors */
	u8		dev_idx;
	u8		nr_devices;
	u32		u64s;			/* of the fields after this header */

	u64		time_base_lo;
	u32		time_base_hi;
	u32		time_precision;

	u64		flags[7];
	u64		write_time;
	u64		features[2];
	u64		compat[2];

	struct bch_sb_layout layout;
	/* struct bch_sb_field start[]; */
} __packed __aligned(8);

struct bch_member {
	u8		uuid[16];
	u64		nbuckets;
	u16		first_bucket;
	u16		bucket_size;		/* sectors */
	u8		btree_bitmap_shift;
	u8		pad[3];
	u64		last_mount;
	u64		flags;
	u32		iops[4];
	u64		errors[3];
	u64		errors_at_reset[3];
	u64		errors_reset_time;
	u64		seq;
	u64		btree_allocated_bitmap;
	u32		last_journal_bucket;
	u32		last_journal_bucket_offset;
};

struct bch_sb_field_members_v2 {
	struct bch_sb_field field;
	u16		member_bytes;
	u8		pad[6];
	/* struct bch_member _members[]; */
};

_Static_assert(sizeof(struct bch_sb_layout) == 512, "layout size");
_Static_assert(sizeof(struct bch_sb) == 752, "sb header size");
_Static_assert(sizeof(struct bch_member) == 144, "member size");
_Static_assert(sizeof(struct bch_sb_field_members_v2) == 16, "members_v2 header");

/* ---- LE64_BITMASK helpers ---- */

static void set_bits(u64 *word, unsigned int lo, unsigned int hi, u64 v)
{
	u64 mask = (hi - lo == 64) ? ~0ULL : ((1ULL << (hi - lo)) - 1);

	*word &= ~(mask << lo);
	*word |= (v & mask) << lo;
}

static u64 get_bits(u64 word, unsigned int lo, unsigned int hi)
{
	u64 mask = (hi - lo == 64) ? ~0ULL : ((1ULL << (hi - lo)) - 1);

	return (word >> lo) & mask;
}

/* ---- CRC-32C (Castagnoli), reflected, table driven ---- */

static u32 crc32c_table[256];

static void crc32c_init(void)
{
	for (u32 i = 0; i < 256; i++) {
		u32 c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78U & -(c & 1));
		crc32c_table[i] = c;
	}
}

/* Like the kernel's crc32c(seed, p, len): no pre/post inversion here. */
static u32 crc32c_raw(u32 crc, const void *p, size_t len)
{
	const u8 *b = p;

	while (len--)
		crc = crc32c_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return crc;
}

static size_t sb_bytes(const struct bch_sb *sb)
{
	return sizeof(*sb) + (size_t)sb->u64s * 8;
}

/*
 * csum_vstruct(NULL, BCH_CSUM_crc32c_nonzero, null_nonce(), sb): covers
 * everything after the csum field up to vstruct_end(sb).  crc32c_nonzero
 * seeds with U32_MAX and xors the result with U32_MAX (checksum.c), i.e.
 * plain CRC-32C; stored in csum.lo, csum.hi stays zero.
 */
static struct bch_csum sb_csum(const struct bch_sb *sb)
{
	const u8 *start = (const u8 *)sb + sizeof(sb->csum);
	size_t len = sb_bytes(sb) - sizeof(sb->csum);
	struct bch_csum c = { 0, 0 };

	c.lo = crc32c_raw(~0U, start, len) ^ ~0U;
	return c;
}

/* ---- helpers ---- */

static const char *prog = "bcachefs-format";

__printf(1, 2) __noreturn
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* "256M", "1G", "4096", "64k": binary units; returns 0 on parse error */
static int parse_size(const char *s, u64 *out)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		end++;
		break;
	case 'm': case 'M':
		shift = 20;
		end++;
		break;
	case 'g': case 'G':
		shift = 30;
		end++;
		break;
	case 't': case 'T':
		shift = 40;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -1;
	if (shift && v > (~0ULL >> shift))
		return -1;
	*out = (u64)v << shift;
	return 0;
}

static void get_random(void *buf, size_t len)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, buf, len) != (ssize_t)len)
		die("cannot read /dev/urandom: %s", strerror(errno));
	close(fd);
}

static void random_uuid(u8 uuid[16])
{
	get_random(uuid, 16);
	uuid[6] = (uuid[6] & 0x0f) | 0x40;	/* version 4 */
	uuid[8] = (uuid[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
}

static void pwrite_all(int fd, const void *buf, size_t len, u64 off,
		       const char *what)
{
	const u8 *p = buf;

	while (len) {
		ssize_t r = pwrite(fd, p, len, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("error writing %s at byte %" PRIu64 ": %s", what,
			    off, r < 0 ? strerror(errno) : "short write");
		p += r;
		len -= r;
		off += r;
	}
}

static int pread_all(int fd, void *buf, size_t len, u64 off)
{
	u8 *p = buf;

	while (len) {
		ssize_t r = pread(fd, p, len, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= r;
		off += r;
	}
	return 0;
}

static u64 device_bytes(int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st))
		die("cannot stat %s: %s", path, strerror(errno));
#ifdef BLKGETSIZE64
	if (S_ISBLK(st.st_mode)) {
		u64 bytes;

		if (ioctl(fd, BLKGETSIZE64, &bytes))
			die("cannot get size of %s: %s", path, strerror(errno));
		return bytes;
	}
#endif
	if (!S_ISREG(st.st_mode))
		die("%s is neither a regular file nor a block device", path);
	return st.st_size;
}

static int is_pow2(u64 v)
{
	return v && !(v & (v - 1));
}

/* ---- format ---- */

struct format_opts {
	u64		size;		/* bytes, 0: use existing size */
	const char	*label;
	u64		btree_node_size; /* bytes */
	u64		bucket_size;	/* bytes, 0: pick */
};

/*
 * Bucket size: at least the btree node size (validate_member() rejects
 * smaller) and at least 128k, bcachefs-tools' minimum preference; grown for
 * big devices so the bucket count stays moderate, capped at 1 MiB like
 * bcachefs-tools.  Small devices keep small buckets, since the kernel wants
 * BCH_MIN_NR_NBUCKETS usable buckets and the journal takes several.
 */
static u64 pick_bucket_size(u64 dev_bytes, u64 btree_node_size)
{
	u64 b = btree_node_size > (128 << 10) ? btree_node_size : (128 << 10);

	while (b < (1 << 20) && dev_bytes / b > (1 << 16))
		b <<= 1;
	return b;
}

static void format(const char *path, const struct format_opts *o)
{
	u64 dev_bytes, dev_sectors, bucket_sectors, nbuckets, backup_sb, sb_end;
	size_t buf_bytes, members_v1_bytes, members_v2_bytes;
	struct bch_sb_field_members_v2 *mi2;
	struct bch_sb_field *mi1;
	struct bch_member m;
	struct bch_sb *sb;
	struct timespec now;
	u8 *buf, *zero;
	int fd;

	/* only create the file when told how big to make it */
	fd = open(path, O_RDWR | O_CLOEXEC | (o->size ? O_CREAT : 0), 0644);
	if (fd < 0)
		die("cannot open %s for writing: %s", path, strerror(errno));

	if (o->size) {
		struct stat st;

		if (fstat(fd, &st))
			die("cannot stat %s: %s", path, strerror(errno));
		if (S_ISREG(st.st_mode)) {
			/* create/extend (or shrink) the image to the asked size */
			if (ftruncate(fd, o->size))
				die("cannot resize %s to %" PRIu64 " bytes: %s",
				    path, o->size, strerror(errno));
		} else if (device_bytes(fd, path) < o->size) {
			die("%s is smaller than --size", path);
		}
	}

	dev_bytes = o->size ? o->size : device_bytes(fd, path);
	dev_sectors = dev_bytes >> SECTOR_SHIFT;

	bucket_sectors = (o->bucket_size ? o->bucket_size :
			  pick_bucket_size(dev_bytes, o->btree_node_size)) >> SECTOR_SHIFT;
	if (bucket_sectors < (o->btree_node_size >> SECTOR_SHIFT))
		die("bucket size %" PRIu64 " smaller than btree node size %" PRIu64,
		    bucket_sectors << SECTOR_SHIFT, o->btree_node_size);
	if (bucket_sectors > UINT16_MAX)
		die("bucket size too big (max %u sectors)", UINT16_MAX);

	nbuckets = dev_sectors / bucket_sectors;

	/*
	 * The two leading superblocks and the backup at the end live inside
	 * buckets the kernel marks as BCH_DATA_sb at first mount; what must be
	 * left is enough buckets for the kernel to initialize: the member
	 * validation minimum (64), plus the superblock buckets, plus room for
	 * the journal the kernel allocates (bch2_fs_journal_alloc() wants at
	 * least 8 buckets, typically 1/128 of the device).
	 */
	sb_end = BCH_SB_SECTOR + 2 * SB_SIZE_SECTORS;
	{
		u64 sb_buckets = (sb_end + bucket_sectors - 1) / bucket_sectors +
			(SB_SIZE_SECTORS + bucket_sectors - 1) / bucket_sectors + 1;
		u64 need = BCH_MIN_NR_NBUCKETS + sb_buckets + 16;

		if (nbuckets < need)
			die("device too small: %" PRIu64 " bytes gives %" PRIu64
			    " buckets of %" PRIu64 " bytes, need at least %" PRIu64
			    " (%" PRIu64 " bytes)",
			    dev_bytes, nbuckets, bucket_sectors << SECTOR_SHIFT,
			    need, need * (bucket_sectors << SECTOR_SHIFT));
	}
	if (nbuckets > BCH_MEMBER_NBUCKETS_MAX)
		die("device too large for bucket size (%" PRIu64 " buckets)", nbuckets);

	/* backup superblock: last sb_size sectors, rounded down to a bucket */
	backup_sb = nbuckets * bucket_sectors - SB_SIZE_SECTORS;
	backup_sb -= backup_sb % bucket_sectors;

	members_v1_bytes = sizeof(struct bch_sb_field) + BCH_MEMBER_V1_BYTES;
	members_v2_bytes = sizeof(*mi2) + sizeof(struct bch_member);
	buf_bytes = sizeof(*sb) + members_v2_bytes + members_v1_bytes;
	/* round the write up to 4k so a 4k-sector device takes it whole */
	buf_bytes = (buf_bytes + 4095) & ~(size_t)4095;

	buf = calloc(1, buf_bytes);
	zero = calloc(1, 4096);
	if (!buf || !zero)
		die("out of memory");
	sb = (struct bch_sb *)buf;

	clock_gettime(CLOCK_REALTIME, &now);

	sb->version	= BCH_METADATA_VERSION_6_12;
	sb->version_min	= BCH_METADATA_VERSION_6_12;
	memcpy(sb->magic, bchfs_magic, 16);
	random_uuid(sb->uuid);
	random_uuid(sb->user_uuid);
	if (o->label)
		memcpy(sb->label, o->label, strlen(o->label));	/* checked <= 32 */
	sb->seq		= 0;
	sb->block_size	= 4096 >> SECTOR_SHIFT;	/* BCH_SB_BLOCK_SIZE */
	sb->dev_idx	= 0;
	sb->nr_devices	= 1;
	sb->time_base_lo = (u64)now.tv_sec * 1000000000ULL + now.tv_nsec;
	sb->time_precision = 1;			/* ns; 0 fails validation */
	sb->write_time	= now.tv_sec;
	sb->features[0]	= BCH_SB_FEATURES_ALL;

	/*
	 * Options live in flags[] (opts.h BCH_SB_* with defaults).  Every
	 * option with a superblock field is range checked by bch2_sb_validate(),
	 * and a zero is out of range for several (replicas, gc_reserve,
	 * journal_flush_delay, btree node size), so set every default.
	 */
	set_bits(&sb->flags[0],  0,  1, 0);	/* INITIALIZED: kernel does it */
	set_bits(&sb->flags[0],  1,  2, 0);	/* CLEAN */
	set_bits(&sb->flags[0],  2,  8, BCH_CSUM_crc32c_nonzero); /* CSUM_TYPE */
	set_bits(&sb->flags[0],  8, 12, BCH_ON_ERROR_fix_safe);	/* ERROR_ACTION */
	set_bits(&sb->flags[0], 12, 28, o->btree_node_size >> SECTOR_SHIFT);
	set_bits(&sb->flags[0], 28, 33, 8);	/* GC_RESERVE % */
	set_bits(&sb->flags[0], 33, 40, 0);	/* ROOT_RESERVE % */
	set_bits(&sb->flags[0], 40, 44, BCH_CSUM_OPT_crc32c); /* META_CSUM */
	set_bits(&sb->flags[0], 44, 48, BCH_CSUM_OPT_crc32c); /* DATA_CSUM */
	set_bits(&sb->flags[0], 48, 52, 1);	/* META_REPLICAS_WANT */
	set_bits(&sb->flags[0], 52, 56, 1);	/* DATA_REPLICAS_WANT */
	set_bits(&sb->flags[0], 56, 57, 1);	/* POSIX_ACL */
	set_bits(&sb->flags[0], 63, 64, 1);	/* PROMOTE_WHOLE_EXTENTS */

	set_bits(&sb->flags[1],  0,  4, BCH_STR_HASH_OPT_siphash);
	set_bits(&sb->flags[1],  8,  9, 1);	/* INODE_32BIT */
	set_bits(&sb->flags[1], 14, 20, 7);	/* ENCODED_EXTENT_MAX: 1 << 7 sectors = 64k */
	set_bits(&sb->flags[1], 20, 24, 1);	/* META_REPLICAS_REQ */
	set_bits(&sb->flags[1], 24, 28, 1);	/* DATA_REPLICAS_REQ */

	set_bits(&sb->flags[3], 28, 29, 1);	/* SHARD_INUMS */
	set_bits(&sb->flags[3], 29, 30, 1);	/* INODES_USE_KEY_CACHE */
	set_bits(&sb->flags[3], 30, 62, 1000);	/* JOURNAL_FLUSH_DELAY ms */
	set_bits(&sb->flags[4],  0, 32, 100);	/* JOURNAL_RECLAIM_DELAY ms */
	set_bits(&sb->flags[4], 32, 33, 1);	/* JOURNAL_TRANSACTION_NAMES */
	/* VERSION_UPGRADE_COMPLETE: nothing left to upgrade to */
	set_bits(&sb->flags[5],  0, 16, BCH_METADATA_VERSION_6_12);
	set_bits(&sb->flags[5], 16, 32, 30);	/* ALLOCATOR_STUCK_TIMEOUT s */

	/* layout: same for every copy; primary's copy also goes to sector 7 */
	memcpy(sb->layout.magic, bchfs_magic, 16);
	sb->layout.layout_type		= 0;
	sb->layout.sb_max_size_bits	= SB_SIZE_BITS;
	sb->layout.nr_superblocks	= 3;
	sb->layout.sb_offset[0]		= BCH_SB_SECTOR;
	sb->layout.sb_offset[1]		= BCH_SB_SECTOR + SB_SIZE_SECTORS;
	sb->layout.sb_offset[2]		= backup_sb;

	/* the member entry, shared by members_v2 and (prefix) members_v1 */
	memset(&m, 0, sizeof(m));
	random_uuid(m.uuid);
	m.nbuckets	= nbuckets;
	/*
	 * first_bucket 0 as bcachefs-tools does: the superblock buckets are
	 * marked BCH_DATA_sb by the kernel, so they are never allocated.
	 */
	m.first_bucket	= 0;
	m.bucket_size	= bucket_sectors;
	m.last_mount	= now.tv_sec;
	/* DATA_ALLOWED (bits 15..19): without it nothing can be allocated */
	set_bits(&m.flags, 15, 20, (1U << BCH_DATA_journal) |
		 (1U << BCH_DATA_btree) | (1U << BCH_DATA_user));
	set_bits(&m.flags, 28, 30, 2);	/* DURABILITY: stored as durability + 1 */
	/* DISCARD left off, as bcachefs-tools' default */
	m.seq		= sb->seq;

	/*
	 * 6.12 bch2_sb_validate() insists on members_v1 being present and
	 * validates it first; members_v2 is what it reads when present.  Write
	 * both, v2 first, like bch2_sb_members_cpy_v2_v1() leaves them.
	 */
	mi2 = (void *)(buf + sizeof(*sb));
	/* a field's u64s covers its own 8-byte header too (_data is at 0) */
	mi2->field.u64s	= members_v2_bytes / 8;
	mi2->field.type	= BCH_SB_FIELD_members_v2;
	mi2->member_bytes = sizeof(struct bch_member);
	memcpy((u8 *)mi2 + sizeof(*mi2), &m, sizeof(m));

	mi1 = (void *)((u8 *)mi2 + members_v2_bytes);
	mi1->u64s	= members_v1_bytes / 8;
	mi1->type	= BCH_SB_FIELD_members_v1;
	memcpy((u8 *)mi1 + sizeof(*mi1), &m, BCH_MEMBER_V1_BYTES);

	sb->u64s = (members_v2_bytes + members_v1_bytes) / 8;

	/*
	 * Clear the first 4k (sectors 0..7) so no stale signature (ext4, an
	 * old bcachefs) confuses blkid, and so bytes around the layout copy
	 * are deterministic; then the layout copy at sector 7.
	 */
	pwrite_all(fd, zero, 4096, 0, "leading sectors");
	pwrite_all(fd, &sb->layout, sizeof(sb->layout),
		   BCH_SB_LAYOUT_SECTOR << SECTOR_SHIFT, "superblock layout");

	for (unsigned int i = 0; i < sb->layout.nr_superblocks; i++) {
		sb->offset = sb->layout.sb_offset[i];
		sb->csum = sb_csum(sb);
		pwrite_all(fd, buf, buf_bytes, sb->offset << SECTOR_SHIFT,
			   "superblock");
	}

	if (fsync(fd))
		die("fsync %s: %s", path, strerror(errno));
	if (close(fd))
		die("close %s: %s", path, strerror(errno));

	printf("%s: bcachefs version %u.%u, %" PRIu64 " bytes, %" PRIu64
	       " buckets of %" PRIu64 "k, btree node %" PRIu64 "k, superblocks at %"
	       PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", path,
	       BCH_METADATA_VERSION_6_12 >> 10, BCH_METADATA_VERSION_6_12 & 1023,
	       dev_bytes, nbuckets, (bucket_sectors << SECTOR_SHIFT) >> 10,
	       o->btree_node_size >> 10,
	       (u64)sb->layout.sb_offset[0], (u64)sb->layout.sb_offset[1],
	       (u64)sb->layout.sb_offset[2]);
	free(buf);
	free(zero);
}

/* ---- check: re-read and verify what the kernel's read_one_super() checks ---- */

static int check_one(int fd, u64 sector, u64 dev_bytes, struct bch_sb_layout *layout)
{
	u8 hdr[sizeof(struct bch_sb)];
	struct bch_sb *sb = (struct bch_sb *)hdr;
	struct bch_csum c;
	size_t bytes;
	u8 *buf;
	int ret = 0;

	if (pread_all(fd, hdr, sizeof(hdr), sector << SECTOR_SHIFT)) {
		printf("sb@%" PRIu64 ": read error\n", sector);
		return -1;
	}
	if (memcmp(sb->magic, bchfs_magic, 16)) {
		printf("sb@%" PRIu64 ": bad magic\n", sector);
		return -1;
	}
	bytes = sb_bytes(sb);
	if (bytes > (512ULL << sb->layout.sb_max_size_bits) ||
	    sb->layout.sb_max_size_bits > BCH_SB_LAYOUT_SIZE_BITS_MAX ||
	    (sector << SECTOR_SHIFT) + bytes > dev_bytes) {
		printf("sb@%" PRIu64 ": bad size %zu\n", sector, bytes);
		return -1;
	}
	buf = malloc(bytes);
	if (!buf || pread_all(fd, buf, bytes, sector << SECTOR_SHIFT)) {
		printf("sb@%" PRIu64 ": read error\n", sector);
		free(buf);
		return -1;
	}
	sb = (struct bch_sb *)buf;

	if (get_bits(sb->flags[0], 2, 8) != BCH_CSUM_crc32c_nonzero) {
		printf("sb@%" PRIu64 ": unexpected csum type %" PRIu64 "\n",
		       sector, get_bits(sb->flags[0], 2, 8));
		ret = -1;
	}
	c = sb_csum(sb);
	if (c.lo != sb->csum.lo || c.hi != sb->csum.hi) {
		printf("sb@%" PRIu64 ": bad csum: got %08" PRIx64 " want %08" PRIx64 "\n",
		       sector, (u64)sb->csum.lo, (u64)c.lo);
		ret = -1;
	}
	if (sb->offset != sector) {
		printf("sb@%" PRIu64 ": offset field says %" PRIu64 "\n",
		       sector, (u64)sb->offset);
		ret = -1;
	}
	if (sb->version < BCH_VERSION(0, 9) || sb->version_min > sb->version ||
	    sb->version > BCH_METADATA_VERSION_6_12) {
		printf("sb@%" PRIu64 ": version %u (min %u) not accepted by 6.12\n",
		       sector, sb->version, sb->version_min);
		ret = -1;
	}
	if (!sb->nr_devices || sb->nr_devices > BCH_SB_MEMBERS_MAX ||
	    sb->dev_idx >= sb->nr_devices || !sb->time_precision ||
	    !sb->block_size || sb->block_size > 8) {
		printf("sb@%" PRIu64 ": bad header fields\n", sector);
		ret = -1;
	}
	/* fields, as bch2_sb_validate() walks them */
	{
		u8 *f = buf + sizeof(*sb), *end = buf + bytes;
		int have_mi1 = 0;

		while (f < end) {
			struct bch_sb_field *fd = (void *)f;

			if (f + sizeof(*fd) > end || !fd->u64s ||
			    f + (size_t)fd->u64s * 8 > end) {
				printf("sb@%" PRIu64 ": field type %u has bad size %u\n",
				       sector, fd->type, fd->u64s);
				ret = -1;
				break;
			}
			if (fd->type == BCH_SB_FIELD_members_v1)
				have_mi1 = 1;
			f += (size_t)fd->u64s * 8;
		}
		if (!have_mi1) {
			printf("sb@%" PRIu64 ": no members_v1 field\n", sector);
			ret = -1;
		}
	}
	if (layout)
		memcpy(layout, &sb->layout, sizeof(*layout));
	if (!ret)
		printf("sb@%" PRIu64 ": ok, version %u.%u, seq %" PRIu64
		       ", csum %08" PRIx64 ", %s, label '%.32s'\n",
		       sector, sb->version >> 10, sb->version & 1023,
		       (u64)sb->seq, (u64)sb->csum.lo,
		       get_bits(sb->flags[0], 0, 1) ? "initialized" : "not initialized",
		       sb->label);
	free(buf);
	return ret;
}

static int check(const char *path)
{
	struct bch_sb_layout layout, layout7;
	u64 dev_bytes;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("cannot open %s: %s", path, strerror(errno));
	dev_bytes = device_bytes(fd, path);

	if (check_one(fd, BCH_SB_SECTOR, dev_bytes, &layout))
		ret = -1;

	if (pread_all(fd, &layout7, sizeof(layout7),
		      BCH_SB_LAYOUT_SECTOR << SECTOR_SHIFT) ||
	    memcmp(layout7.magic, bchfs_magic, 16)) {
		printf("layout@%u: missing or bad magic\n", BCH_SB_LAYOUT_SECTOR);
		ret = -1;
	} else if (!ret && memcmp(&layout7, &layout, sizeof(layout))) {
		/* the kernel rewrites both as it goes; they should agree */
		printf("layout@%u: differs from primary superblock's layout\n",
		       BCH_SB_LAYOUT_SECTOR);
		ret = -1;
	} else {
		printf("layout@%u: ok, %u superblocks, max %u sectors\n",
		       BCH_SB_LAYOUT_SECTOR, layout7.nr_superblocks,
		       1U << layout7.sb_max_size_bits);
	}

	if (!ret) {
		if (!layout.nr_superblocks || layout.nr_superblocks > 61) {
			printf("layout: bad nr_superblocks %u\n", layout.nr_superblocks);
			ret = -1;
		}
		for (unsigned int i = 1; !ret && i < layout.nr_superblocks; i++) {
			if (layout.sb_offset[i] <
			    layout.sb_offset[i - 1] + (1ULL << layout.sb_max_size_bits)) {
				printf("layout: superblocks %u and %u overlap\n", i - 1, i);
				ret = -1;
			} else if (check_one(fd, layout.sb_offset[i], dev_bytes, NULL)) {
				ret = -1;
			}
		}
	}
	close(fd);
	printf("%s: %s\n", path, ret ? "BAD" : "ok");
	return ret ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [--size SIZE] [--label LABEL] [--btree-node-size SIZE]\n"
		"          [--bucket-size SIZE] IMAGE\n"
		"       %s --check IMAGE\n"
		"\n"
		"Writes a single-device bcachefs superblock (6.12 format, not yet\n"
		"initialized: the kernel initializes the filesystem on first mount).\n"
		"SIZE takes k/M/G/T suffixes (binary). --size creates or resizes a\n"
		"regular file; block devices are used at their own size.\n",
		prog, prog);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size",		required_argument, NULL, 's' },
		{ "label",		required_argument, NULL, 'L' },
		{ "btree-node-size",	required_argument, NULL, 'n' },
		{ "bucket-size",	required_argument, NULL, 'b' },
		{ "check",		no_argument,	   NULL, 'c' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct format_opts o = {
		.btree_node_size = 256 << 10,	/* opts.h default */
	};
	int do_check = 0, c;

	crc32c_init();

	while ((c = getopt_long(argc, argv, "s:L:n:b:ch", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &o.size) || !o.size)
				die("bad size '%s' (want e.g. 256M, 1G)", optarg);
			break;
		case 'L':
			if (strlen(optarg) > BCH_SB_LABEL_SIZE)
				die("label longer than %u bytes", BCH_SB_LABEL_SIZE);
			o.label = optarg;
			break;
		case 'n':
			if (parse_size(optarg, &o.btree_node_size) ||
			    !is_pow2(o.btree_node_size) ||
			    o.btree_node_size < 4096 || o.btree_node_size >= (1 << 20))
				die("bad btree node size '%s' (power of two, 4k..512k)", optarg);
			break;
		case 'b':
			if (parse_size(optarg, &o.bucket_size) ||
			    !is_pow2(o.bucket_size) || o.bucket_size < 4096)
				die("bad bucket size '%s' (power of two, >= 4k)", optarg);
			break;
		case 'c':
			do_check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}

	if (do_check)
		return check(argv[optind]);

	format(argv[optind], &o);
	return 0;
}
