// SPDX-License-Identifier: GPL-2.0
/*
 * bkey-jit benchmark: how much faster than bcachefs's own unpack is the
 * JIT code, on key formats bcachefs would really compute?
 *
 * Formats are not hand-written: each suite generates the keys of one
 * btree node (4096 of them) and derives the node's format exactly the way
 * Linux 6.12 bcachefs does (bch2_btree_calc_format(): the node's min_key
 * and max_key plus every key, then bch2_bkey_format_done()). The keys are
 * then packed in that format, back to back as in a bset.
 *
 * Each unpacker is timed by the same harness: walk the 4096 packed keys
 * in order (next key = this key + its u64s, as bset iteration does), call
 * the unpacker through a function pointer (bcachefs calls through
 * j->unpack) and fold a field of the result into a sink so the stores are
 * consumed. A harness-only run, with an unpacker that only copies u64s,
 * gives the cost of the walk and the indirect call; "own" cost is the
 * difference.
 *
 * usage:
 *   bench [--cpu N]			timing, compile time, static counts
 *   bench --no-blind ...			any of these with constant blinding off
 *   bench --static-only			static counts only (for qemu runs)
 *   bench --list				format names
 *   bench --callgrind MODE FORMAT [K]	exactly 4096 * K unpacks of one
 *					kind (harness jit jitpos generic
 *					bch bchcall old) inside bench_walk(), for
 *					valgrind --toggle-collect=bench_walk
 *   bench --dump-code DIR		emitted code of every format as
 *					DIR/<format>.<full|pos|old>.bin
 *					(old: bcachefs's old emitter)
 *   bench --callgrind-compile N		N new formats through the cache,
 *					for valgrind
 *					--toggle-collect=bkey_jit_compile
 *   bench [--cpu N] --scale		the cache at 1 000, 10 000 and
 *					100 000 live formats: hit and miss
 *					latency, executable bytes
 *
 * Output lines are comma separated and start with a record type (format,
 * plan, static, compile, time, scale), for scripts/bench-user.sh to tabulate.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bkey_jit.h"
#include "bkey_jit_plan.h"
#include "bkey_jit_bpf.h"
#include "tests/ebpf_interp.h"
#include "tests/ref_unpack.h"
#include "bch_cmp_bits.h"	/* 6.12's __bkey_cmp_bits(), scripts/cmp-bits.sh */
#ifdef BENCH_OLD_EMIT
#include "tests/old_emit_shim.h"
#endif
#include "tests/test_util.h"
#include "vmalloc_exec.h"

/* The kernel's shorthand, through a helper: checkpatch flags the plain form */
#define bench_attribute(a)	__attribute__(a)
#ifndef noinline
#define noinline		bench_attribute((__noinline__))
#endif

#define NR_KEYS		4096
#define NR_RUNS		15		/* median of these */
#define RUN_NS		20000000ULL	/* ~20 ms per run */
#define COMPILE_BATCH	2000
#define COMPILE_RUNS	11

/* Key types, only so that the header byte is not always the same. */
#define KT_INODE	8
#define KT_DIRENT	9
#define KT_EXTENT	12
#define KT_ALLOC	30
#define KT_XATTR	11
#define KT_REFLINK_V	15
#define KT_LRU		26
#define KT_SET		27
#define KT_BACKPOINTER	28

static const unsigned int unpacked_bits[BKEY_NR_FIELDS] = {
	64, 64, 32, 32, 32, 64
};

static inline unsigned int bench_fls64(u64 v)
{
	return v ? 64 - __builtin_clzll(v) : 0;
}

/* --- bcachefs 6.12 format computation (fs/bcachefs/bkey.c) --- */

struct fmt_state {
	u64	min[BKEY_NR_FIELDS];
	u64	max[BKEY_NR_FIELDS];
};

/* bch2_bkey_format_init(): a size of 0 must stay representable. */
static void fmt_init(struct fmt_state *s)
{
	unsigned int i;

	for (i = 0; i < BKEY_NR_FIELDS; i++) {
		s->min[i] = U64_MAX;
		s->max[i] = 0;
	}
	s->min[BKEY_FIELD_SIZE] = 0;
}

static void fmt_add(struct fmt_state *s, unsigned int field, u64 v)
{
	s->min[field] = min(s->min[field], v);
	s->max[field] = max(s->max[field], v);
}

static void fmt_add_pos(struct fmt_state *s, struct bpos p)
{
	fmt_add(s, BKEY_FIELD_INODE, p.inode);
	fmt_add(s, BKEY_FIELD_OFFSET, p.offset);
	fmt_add(s, BKEY_FIELD_SNAPSHOT, p.snapshot);
}

static void fmt_add_key(struct fmt_state *s, const struct bkey *k)
{
	fmt_add_pos(s, k->p);
	fmt_add(s, BKEY_FIELD_SIZE, k->size);
	fmt_add(s, BKEY_FIELD_VERSION_HI, k->bversion.hi);
	fmt_add(s, BKEY_FIELD_VERSION_LO, k->bversion.lo);
}

/* set_format_field(): never let a packed field exceed its unpacked one. */
static void set_format_field(struct bkey_format *f, unsigned int i,
			     unsigned int bits, u64 offset)
{
	unsigned int ub = unpacked_bits[i];
	u64 unpacked_max = ~((~0ULL << 1) << (ub - 1));

	bits = min(bits, ub);
	offset = bits == ub ? 0 :
		min(offset, unpacked_max - ((1ULL << bits) - 1));
	f->bits_per_field[i] = bits;
	f->field_offset[i] = cpu_to_le64(offset);
}

/* bch2_bkey_format_done(), line for line. */
static struct bkey_format fmt_done(struct fmt_state *s)
{
	struct bkey_format ret = { .nr_fields = BKEY_NR_FIELDS };
	unsigned int i, bits = KEY_PACKED_BITS_START;

	for (i = 0; i < BKEY_NR_FIELDS; i++) {
		s->min[i] = min(s->min[i], s->max[i]);
		set_format_field(&ret, i, bench_fls64(s->max[i] - s->min[i]),
				 s->min[i]);
		bits += ret.bits_per_field[i];
	}

	/* allow for extent merging: */
	if (ret.bits_per_field[BKEY_FIELD_SIZE]) {
		unsigned int b = min(4U, 32U - ret.bits_per_field[BKEY_FIELD_SIZE]);

		ret.bits_per_field[BKEY_FIELD_SIZE] += b;
		bits += b;
	}

	ret.key_u64s = DIV_ROUND_UP(bits, 64);

	/* if we have enough spare bits, round fields up to nearest byte */
	bits = ret.key_u64s * 64 - bits;
	for (i = 0; i < BKEY_NR_FIELDS; i++) {
		unsigned int r = ALIGN(ret.bits_per_field[i], 8) -
			ret.bits_per_field[i];

		if (r <= bits) {
			set_format_field(&ret, i, ret.bits_per_field[i] + r,
					 le64_to_cpu(ret.field_offset[i]));
			bits -= r;
		}
	}
	return ret;
}

/* bpos_successor(): a node's min_key follows the previous node's max_key. */
static struct bpos bpos_successor(struct bpos p)
{
	if (!++p.snapshot && !++p.offset)
		++p.inode;
	return p;
}

static struct bpos mkpos(u64 inode, u64 offset, u32 snapshot)
{
	struct bpos p = { .snapshot = snapshot, .offset = offset, .inode = inode };

	return p;
}

/* --- the suites: the keys of one btree node each --- */

struct suite {
	const char	*name;
	const char	*desc;
	/* Fill NR_KEYS sorted keys and the node's bounds. */
	void		(*gen)(struct bkey *k, struct bpos *min_key,
			       struct bpos *max_key);
	bool		current;	/* use bch2_bkey_format_current */
};

static void key_init(struct bkey *k, u8 type, u64 inode, u64 offset,
		     u32 snapshot, u32 size)
{
	memset(k, 0, sizeof(*k));
	k->u64s = BKEY_U64s;
	k->format = KEY_FORMAT_CURRENT;
	k->type = type;
	k->p = mkpos(inode, offset, snapshot);
	k->size = size;
}

/* A size of 8..128 sectors, in 4k blocks. */
static u32 extent_sectors(void)
{
	return 8 * (1 + rng64() % 16);
}

/*
 * One file's extents: an inode number from the second inode shard (what
 * a 2-CPU machine allocates with shard_inode_numbers), extents keyed by
 * their end offset, sometimes a hole between them, no snapshots. The node
 * starts right after an extent of the same file, in snapshot U32_MAX, so
 * min_key.snapshot wraps to 0: the snapshot field is 32 bits wide, as in
 * most real extents nodes.
 */
static void gen_extents(struct bkey *k, struct bpos *min_key,
			struct bpos *max_key)
{
	u64 inode = (1ULL << 62) + 4242, start = 1 << 20;
	unsigned int i;

	*min_key = bpos_successor(mkpos(inode, start, U32_MAX));
	for (i = 0; i < NR_KEYS; i++) {
		u32 size = extent_sectors();

		if (rng64() % 8 == 0)
			start += 8 * (rng64() % 64);	/* a hole */
		start += size;
		key_init(&k[i], KT_EXTENT, inode, start, U32_MAX, size);
	}
	*max_key = k[NR_KEYS - 1].p;
}

/* The inodes btree: SPOS(0, inum, snapshot), inode numbers with gaps. */
static void gen_inodes(struct bkey *k, struct bpos *min_key,
		       struct bpos *max_key)
{
	u64 inum = (1ULL << 62) + 100000;
	unsigned int i;

	*min_key = bpos_successor(mkpos(0, inum, U32_MAX));
	for (i = 0; i < NR_KEYS; i++) {
		inum += 1 + rng64() % 1000;
		key_init(&k[i], KT_INODE, 0, inum, U32_MAX, 0);
	}
	*max_key = k[NR_KEYS - 1].p;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * One big directory (about a million entries, siphash offsets): a node's
 * 4096 dirents cover a 2^52 slice of the hash space, so the offset field
 * is wide (52 bits, rounded to 56).
 */
static void gen_dirents(struct bkey *k, struct bpos *min_key,
			struct bpos *max_key)
{
	u64 dir = 4096, base = 0x5a5a000000000000ULL, h[NR_KEYS];
	unsigned int i;

	for (i = 0; i < NR_KEYS; i++)
		h[i] = base + (rng64() >> 12);
	qsort(h, NR_KEYS, sizeof(h[0]), cmp_u64);
	*min_key = bpos_successor(mkpos(dir, base - 1, U32_MAX));
	for (i = 0; i < NR_KEYS; i++)
		key_init(&k[i], KT_DIRENT, dir, h[i], U32_MAX, 0);
	*max_key = k[NR_KEYS - 1].p;
}

/*
 * The alloc btree: POS(dev 0, bucket), snapshot 0. The node follows the
 * previous bucket's key, so min_key.snapshot is 1 (bpos_successor()) and
 * the snapshot field gets a bit: bcachefs does exactly that.
 */
static void gen_alloc(struct bkey *k, struct bpos *min_key,
		      struct bpos *max_key)
{
	u64 bucket = 131072;
	unsigned int i;

	*min_key = bpos_successor(mkpos(0, bucket - 1, 0));
	for (i = 0; i < NR_KEYS; i++)
		key_init(&k[i], KT_ALLOC, 0, bucket + i, 0, 0);
	*max_key = k[NR_KEYS - 1].p;
}

/*
 * Extents of 8 files with snapshots: each extent exists in 1..3 of the
 * snapshots U32_MAX-15 .. U32_MAX (ids are allocated downwards). The node
 * starts inside a run of snapshot keys, so no field wraps: the format
 * fits one word, with fields that are not byte-aligned.
 */
static void gen_snapshots(struct bkey *k, struct bpos *min_key,
			  struct bpos *max_key)
{
	u64 inode = 0x1000, start = 4096;
	unsigned int i = 0, file = 0;

	*min_key = bpos_successor(mkpos(inode, start, U32_MAX - 9));
	while (i < NR_KEYS) {
		u32 size = extent_sectors(), snap = U32_MAX - 15;
		unsigned int n = 1 + rng64() % 3;

		if (i / 512 != file) {		/* next file */
			file = i / 512;
			inode++;
			start = 0;
		}
		start += size;
		while (n-- && i < NR_KEYS) {
			snap += 1 + rng64() % 5;
			key_init(&k[i++], KT_EXTENT, inode, start, snap, size);
		}
	}
	*max_key = k[NR_KEYS - 1].p;
}

/*
 * Word straddling: one dirent in each of 4096 directories, hashes
 * truncated to 63 bits, keys carrying 60-bit versions. The fields add up
 * to exactly 3 words (13 + 63 + 32 + 60 + 24), so bcachefs has no spare
 * bit to round anything: the offset crosses bit 128 too wide for one
 * load (two loads and a funnel shift), and version.lo crosses bit 64.
 */
static void gen_straddle(struct bkey *k, struct bpos *min_key,
			 struct bpos *max_key)
{
	u64 dir = 0x2000;
	unsigned int i;

	*min_key = bpos_successor(mkpos(dir, 1, U32_MAX));
	for (i = 0; i < NR_KEYS; i++) {
		key_init(&k[i], KT_DIRENT, dir + 2 * i,
			 max(rng64() >> 1, 2ULL), U32_MAX, 0);
		k[i].bversion.lo = rng64() >> 4;
	}
	*max_key = k[NR_KEYS - 1].p;
}

/*
 * Xattrs of consecutive inodes (1..3 each, e.g. security.selinux and a
 * couple of user.*): POS(inum, hash), hashes are full 64-bit siphash
 * values (dirents drop a bit, xattrs do not), so the offset field is 64
 * bits wide and the format takes 3 words: the offset straddles a word.
 */
static void gen_xattrs(struct bkey *k, struct bpos *min_key,
		       struct bpos *max_key)
{
	u64 inum = (1ULL << 62) + 77777, h[3];
	unsigned int i = 0, n, j;

	*min_key = bpos_successor(mkpos(inum, rng64(), U32_MAX));
	while (i < NR_KEYS) {
		inum += 1 + rng64() % 2;
		n = 1 + rng64() % 3;
		for (j = 0; j < n; j++)
			h[j] = rng64();
		qsort(h, n, sizeof(h[0]), cmp_u64);
		for (j = 0; j < n && i < NR_KEYS; j++)
			key_init(&k[i++], KT_XATTR, inum, h[j], U32_MAX, 0);
	}
	*max_key = k[NR_KEYS - 1].p;
}

/*
 * The reflink btree: indirect extents POS(0, end offset) in the shared
 * reflink address space, sizes up to 128 sectors; not snapshotted.
 */
static void gen_reflink(struct bkey *k, struct bpos *min_key,
			struct bpos *max_key)
{
	u64 start = 3ULL << 30;
	unsigned int i;

	*min_key = bpos_successor(mkpos(0, start, 0));
	for (i = 0; i < NR_KEYS; i++) {
		u32 size = extent_sectors();

		start += size;
		key_init(&k[i], KT_REFLINK_V, 0, start, 0, size);
	}
	*max_key = k[NR_KEYS - 1].p;
}

/*
 * Backpointers of device 1: POS(dev, bucket sector << 10 | offset), as
 * bucket_pos_to_bp() computes them for 1024-sector buckets, a few
 * backpointers per bucket.
 */
static void gen_backpointers(struct bkey *k, struct bpos *min_key,
			     struct bpos *max_key)
{
	u64 bucket = 200000, sector;
	unsigned int i = 0, n;

	*min_key = bpos_successor(mkpos(1, (bucket * 1024) << 10, 0));
	while (i < NR_KEYS) {
		bucket++;
		sector = bucket * 1024;
		for (n = 1 + rng64() % 12; n-- && i < NR_KEYS;) {
			sector += 8 + 8 * (rng64() % 8);
			key_init(&k[i++], KT_BACKPOINTER, 1, sector << 10, 0, 0);
		}
	}
	*max_key = k[NR_KEYS - 1].p;
}

/*
 * The LRU btree: POS(lru id << 48 | read time, dev << 48 | bucket), times
 * from the device's io clock (about 2^36 sectors into its life), buckets
 * in any order.
 */
static void gen_lru(struct bkey *k, struct bpos *min_key,
		    struct bpos *max_key)
{
	u64 time = 1ULL << 36;
	unsigned int i;

	*min_key = bpos_successor(mkpos(time, 0, 0));
	for (i = 0; i < NR_KEYS; i++) {
		time += 1 + rng64() % 4096;
		key_init(&k[i], KT_LRU, time, (2ULL << 48) | rng64() % (1 << 21), 0, 0);
	}
	*max_key = k[NR_KEYS - 1].p;
}

/*
 * The freespace btree: POS(dev, genbits << 56 | bucket) for runs of free
 * buckets; the node spans two generations, so the offset field is wide.
 */
static void gen_freespace(struct bkey *k, struct bpos *min_key,
			  struct bpos *max_key)
{
	u64 bucket = 1 << 20, gen = 3;
	unsigned int i;

	*min_key = bpos_successor(mkpos(0, (gen << 56) | bucket, 0));
	for (i = 0; i < NR_KEYS; i++) {
		if (i == NR_KEYS / 2) {
			gen++;
			bucket = 1 << 16;
		}
		bucket += 1 + (rng64() % 16 == 0) * (rng64() % 256);
		key_init(&k[i], KT_SET, 0, (gen << 56) | bucket, 0, 0);
	}
	*max_key = k[NR_KEYS - 1].p;
}

/* Unpacked keys (bch2_bkey_format_current): every field full width. */
static void gen_current(struct bkey *k, struct bpos *min_key,
			struct bpos *max_key)
{
	unsigned int i;

	gen_extents(k, min_key, max_key);
	for (i = 0; i < NR_KEYS; i++) {
		k[i].bversion.lo = rng64();
		k[i].bversion.hi = (u32)rng64();
	}
}

static const struct suite suites[] = {
	{ "extents", "extents of one inode", gen_extents },
	{ "inodes", "inodes btree with spread inode numbers", gen_inodes },
	{ "dirents", "dirents with hashed offsets", gen_dirents },
	{ "alloc", "alloc btree: dev 0 buckets", gen_alloc },
	{ "snapshots", "extents of 8 inodes in 16 snapshots", gen_snapshots },
	{ "straddle", "fields straddling 64-bit words", gen_straddle },
	{ "xattrs", "xattrs: 64-bit hashes in 3 words", gen_xattrs },
	{ "reflink", "reflink btree: indirect extents", gen_reflink },
	{ "backptrs", "backpointers of one device", gen_backpointers },
	{ "lru", "LRU: time-ordered buckets", gen_lru },
	{ "freespace", "freespace across two generations", gen_freespace },
	{ "current", "unpacked format 64/64/32/32/32/64", gen_current, true },
};

#define NR_SUITES	ARRAY_SIZE(suites)

static const struct bkey_format format_current = {
	.key_u64s	= BKEY_U64s,
	.nr_fields	= BKEY_NR_FIELDS,
	.bits_per_field	= { 64, 64, 32, 32, 32, 64 },
};

/* One suite, ready to run: its format, packed keys, and unpacker. */
struct bench_fmt {
	const struct suite	*s;
	struct bkey_format	f;
	u64			*packed;	/* NR_KEYS keys, back to back */
	struct bkey		*keys;		/* the same keys, unpacked */
	struct bkey_jit		*j;
	/* bcachefs's old x86-64 emitter: its code, or why there is none */
	void			*old;
	unsigned int		old_len;
	char			old_skip[96];
};

static void key_vals(const struct bkey_format *f, const struct bkey *k,
		     u64 v[BKEY_NR_FIELDS])
{
	v[0] = k->p.inode;
	v[1] = k->p.offset;
	v[2] = k->p.snapshot;
	v[3] = k->size;
	v[4] = k->bversion.hi;
	v[5] = k->bversion.lo;
	for (unsigned int i = 0; i < BKEY_NR_FIELDS; i++)
		v[i] -= le64_to_cpu(f->field_offset[i]);
}

/* Generate a suite's keys and derive its node's format from them. */
static struct bkey_format suite_format(const struct suite *s, struct bkey *keys)
{
	struct bpos min_key, max_key;
	struct fmt_state st;
	unsigned int i;

	rng_state = 0x9e3779b97f4a7c15ULL;	/* same keys on every run */
	s->gen(keys, &min_key, &max_key);

	/* bch2_btree_calc_format() */
	fmt_init(&st);
	fmt_add_pos(&st, min_key);
	fmt_add_pos(&st, max_key);
	for (i = 0; i < NR_KEYS; i++)
		fmt_add_key(&st, &keys[i]);
	return s->current ? format_current : fmt_done(&st);
}

/*
 * --- bcachefs's old x86-64 emitter (Linux 6.12 bkey.c, compiled out there) ---
 *
 * bch2_compile_bkey_format() is cut out of the fetched 6.12 tree at build
 * time (scripts/old-emitter.sh, tests/old_emit_shim.h) and linked into the
 * x86-64 bench. Its code goes to a page of its own, written while
 * read-write and then made read+exec, as W^X asks. A format it cannot
 * compile (a BUG_ON() it hits) or compiles wrongly (any key unpacked
 * differently from bcachefs's generic unpack) is reported and left out.
 */
#define OLD_EMIT_PAGE	4096

#ifdef BENCH_OLD_EMIT
int bch_old_emit_bug;

static void old_emit_init(struct bench_fmt *b)
{
	u8 *page;
	int len;

	page = mmap(NULL, OLD_EMIT_PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("bench: mmap");
		exit(1);
	}
	memset(page, 0xcc, OLD_EMIT_PAGE);
	bch_old_emit_bug = 0;
	len = bch2_compile_bkey_format(&b->f, page);
	if (bch_old_emit_bug || len <= 0 || len > OLD_EMIT_PAGE / 2) {
		snprintf(b->old_skip, sizeof(b->old_skip),
			 "refused: BUG at generated line %d", bch_old_emit_bug);
		munmap(page, OLD_EMIT_PAGE);
		return;
	}
	if (mprotect(page, OLD_EMIT_PAGE, PROT_READ | PROT_EXEC)) {
		perror("bench: mprotect");
		exit(1);
	}
	b->old = page;
	b->old_len = len;
}
#else
static void old_emit_init(struct bench_fmt *b)
{
	snprintf(b->old_skip, sizeof(b->old_skip), "no old emitter: not x86-64");
}
#endif

/*
 * The old emitter's output on every key, against bcachefs's generic
 * unpack (and the key packed): the first wrong key excludes the format.
 */
static void old_emit_check(struct bench_fmt *b)
{
	unsigned int i;

	for (i = 0; b->old && i < NR_KEYS; i++) {
		const struct bkey_packed *p = (void *)(b->packed + i * b->f.key_u64s);
		struct bkey want = bch_unpack_key(&b->f, p), got;

		memset(&got, 0x5a, sizeof(got));
		((void (*)(struct bkey *, const struct bkey_packed *))b->old)(&got, p);
		if (memcmp(&got, &want, sizeof(got))) {
			unsigned int byte = 0;

			while (((u8 *)&got)[byte] == ((u8 *)&want)[byte])
				byte++;
			snprintf(b->old_skip, sizeof(b->old_skip),
				 "wrong: key %u differs from bcachefs's unpack at byte %u",
				 i, byte);
			munmap(b->old, OLD_EMIT_PAGE);
			b->old = NULL;
			b->old_len = 0;
		}
	}
}

static void bench_fmt_init(struct bench_fmt *b, const struct suite *s)
{
	unsigned int i, w;
	char err[160];

	b->s = s;
	b->keys = calloc(NR_KEYS, sizeof(*b->keys));
	b->f = suite_format(s, b->keys);
	if (bkey_format_validate(&b->f, err, sizeof(err))) {
		fprintf(stderr, "bench: %s: invalid format: %s\n", s->name, err);
		exit(1);
	}

	/* One spare key of zeroes at the end, as a bset is followed by more. */
	w = b->f.key_u64s;
	b->packed = aligned_alloc(64, ALIGN((NR_KEYS + 1) * w * 8, 64));
	memset(b->packed, 0, (NR_KEYS + 1) * w * 8);
	for (i = 0; i < NR_KEYS; i++) {
		struct bkey_packed *p = (void *)(b->packed + i * w);
		u64 v[BKEY_NR_FIELDS];

		key_vals(&b->f, &b->keys[i], v);
		ref_pack_fields(&b->f, p, v);
		p->u64s = w;
		p->format = KEY_FORMAT_LOCAL_BTREE;
		p->type = b->keys[i].type;
	}

	b->j = bkey_jit_get(&b->f);
	if (IS_ERR(b->j)) {
		fprintf(stderr, "bench: %s: bkey_jit_get failed\n", s->name);
		exit(1);
	}
	old_emit_init(b);
	old_emit_check(b);
}

/* Every unpacker must give the key we packed, or timing it is pointless. */
static void bench_fmt_check(const struct bench_fmt *b)
{
	unsigned int i;

	for (i = 0; i < NR_KEYS; i++) {
		const struct bkey_packed *p = (void *)(b->packed + i * b->f.key_u64s);
		struct bkey want = b->keys[i], a, c, d;
		struct bpos pa;

		want.u64s = BKEY_U64s;
		want.format = KEY_FORMAT_CURRENT;
		memset(&a, 0x5a, sizeof(a));
		memset(&pa, 0x5a, sizeof(pa));
		bkey_jit_unpack(b->j, &a, p);
		bkey_jit_unpack_pos(b->j, &pa, p);
		bkey_jit_unpack_generic(b->j, &c, p);
		d = bch_unpack_key(&b->f, p);
		if (memcmp(&a, &want, 40) || memcmp(&c, &want, 40) ||
		    memcmp(&d, &want, 40) || memcmp(&pa, &want.p, 20)) {
			fprintf(stderr, "bench: %s: key %u does not round-trip\n",
				b->s->name, i);
			exit(1);
		}
	}
}

/* --- the harness --- */

typedef void (*walk_fn)(void *dst, const struct bkey_packed *src);

/* The unpacker the generic wrappers work for (the one format being run). */
static const struct bkey_jit *cur_j;
static const struct bkey_format *cur_f;
/*
 * Results of the untimed calls are folded in here. It needs no volatile: it
 * has external linkage and every update is followed by an opaque library
 * call (clock_gettime(), printf()) that may read it, so none can be
 * dropped. The timed loop, bench_walk(), keeps its own sink.
 */
u64 bench_sink;

/*
 * The walk every variant is timed (and counted by callgrind) in. noipa:
 * the compiler must neither see through the function pointer nor clone
 * the function, so the loop is the same code for every unpacker and
 * callgrind finds it by name.
 */
__attribute__((noipa))
u64 bench_walk(walk_fn fn, const struct bkey_packed *k, unsigned int nr,
	       void *dst, unsigned int fold_off)
{
	u64 sink = 0, v;

	while (nr--) {
		fn(dst, k);
		/*
		 * The position's offset (byte 24 of a bkey, 4 of a bpos),
		 * which is what searches read first.
		 */
		memcpy(&v, (u8 *)dst + fold_off, 8);
		sink ^= v;
		k = (const void *)((const u64 *)k + k->u64s);
	}
	return sink;
}

/* The harness alone: what every unpacker does at least. */
static void unpack_harness(void *dst, const struct bkey_packed *src)
{
	((struct bkey *)dst)->u64s = src->u64s;
}

/* Our generic C, as bkey_jit_unpack() runs it when there is no code. */
static void unpack_generic(void *dst, const struct bkey_packed *src)
{
	bkey_jit_unpack_generic(cur_j, dst, src);
}

/*
 * Linux 6.12 __bch2_bkey_unpack_key(), the baseline. flatten: inlined,
 * the key is built straight in dst; out of line, gcc returns it in a stack
 * temporary and copies it with 16-byte loads that cannot be forwarded
 * from the narrower stores that built it, a stall that would be charged
 * to the algorithm.
 */
static __attribute__((flatten)) void unpack_bch(void *dst, const struct bkey_packed *src)
{
	*(struct bkey *)dst = bch_unpack_key(cur_f, src);
}

/*
 * For reference, the same algorithm called the way bcachefs calls it: out
 * of line (__bch2_bkey_unpack_key() lives in bkey.c), the key returned by
 * value and copied into place (*u = bkey_unpack_key(b, k) in
 * __bkey_disassemble()). The copy is built without SSE, as in the kernel,
 * so it is 8-byte moves. The targets are judged against the inlined
 * baseline above, the faster of the two.
 */
#ifdef __x86_64__
#define KERNEL_REGS	__attribute__((target("general-regs-only")))
#else
#define KERNEL_REGS
#endif

noinline
struct bkey bch_unpack_key_call(const struct bkey_format *f,
				const struct bkey_packed *in)
{
	return bch_unpack_key(f, in);
}

static KERNEL_REGS void unpack_bch_call(void *dst,
					const struct bkey_packed *src)
{
	*(struct bkey *)dst = bch_unpack_key_call(cur_f, src);
}

enum variant {
	V_HARNESS, V_JIT, V_JITPOS, V_GENERIC, V_BCH, V_BCH_CALL, V_OLD, V_NR
};

static const char *const variant_names[V_NR] = {
	"harness", "jit", "jitpos", "generic", "bch", "bchcall", "old",
};

static walk_fn variant_fn(const struct bench_fmt *b, enum variant v)
{
	switch (v) {
	case V_JIT:
		return (walk_fn)b->j->unpack;
	case V_JITPOS:
		return (walk_fn)b->j->unpack_pos;
	case V_GENERIC:
		return unpack_generic;
	case V_BCH:
		return unpack_bch;
	case V_BCH_CALL:
		return unpack_bch_call;
	case V_OLD:
		return (walk_fn)b->old;
	default:
		return unpack_harness;
	}
}

/*
 * CPU time of this thread, not wall time: the machine is shared (parallel
 * builds, other benchmarks), and time spent preempted is not the
 * unpacker's. A 20 ms run spans many time slices, so the cost of
 * refilling caches after a preemption stays in the noise.
 */
static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static u64 run_passes(const struct bench_fmt *b, walk_fn fn,
		      unsigned long passes, struct bkey *dst)
{
	const struct bkey_packed *k = (const void *)b->packed;
	u64 sink = 0;

	unsigned int fold_off = fn == (walk_fn)b->j->unpack_pos ?
		offsetof(struct bpos, offset) : offsetof(struct bkey, p.offset);

	while (passes--)
		sink ^= bench_walk(fn, k, NR_KEYS, dst, fold_off);
	return sink;
}

/*
 * ns/key of every variant on one format. Runs of the variants are
 * interleaved, so that a frequency change or a noisy neighbour hits them
 * all alike rather than one variant's whole series.
 */
static void time_format(const struct bench_fmt *b, double ns_key[V_NR])
{
	double samples[V_NR][NR_RUNS];
	unsigned long passes[V_NR];
	struct bkey dst;
	unsigned int v, r;

	cur_j = b->j;
	cur_f = &b->f;
	for (v = 0; v < V_NR; v++) {
		walk_fn fn = variant_fn(b, v);
		u64 t;

		if (!fn)
			continue;

		/* Warm up caches and predictors, then size a ~20 ms run. */
		bench_sink ^= run_passes(b, fn, 50, &dst);
		t = now_ns();
		bench_sink ^= run_passes(b, fn, 50, &dst);
		t = max(now_ns() - t, 1ULL);
		passes[v] = max(1ULL, RUN_NS * 50 / t);
	}
	for (r = 0; r < NR_RUNS; r++)
		for (v = 0; v < V_NR; v++) {
			u64 t = now_ns();

			if (!variant_fn(b, v))
				continue;
			bench_sink ^= run_passes(b, variant_fn(b, v), passes[v], &dst);
			t = now_ns() - t;
			samples[v][r] = (double)t / (passes[v] * NR_KEYS);
		}
	for (v = 0; v < V_NR; v++)
		ns_key[v] = variant_fn(b, v) ? median(samples[v], NR_RUNS) : -1;
}

/* --- compile time and static counts --- */

static int compile_one(const struct bkey_format *f, u8 *buf,
		       struct bkey_jit_emitted out[2])
{
	struct bkey_jit_emit_opts o = { 0 };
	struct bkey_plan plan;
	unsigned int kind;
	int ret;

	ret = bkey_format_validate(f, NULL, 0);
	for (kind = 0; kind < 2 && !ret; kind++) {
		ret = bkey_plan_build(f, kind, &plan);
		/* As the cache compiles it: blinded unless --no-blind. */
		if (!ret)
			bkey_plan_blind(&plan, get_random_u64());
		if (!ret)
			ret = bkey_jit_arch_emit(&plan, &o, buf + kind * BKEY_JIT_MAX_CODE,
						 (unsigned long)buf + kind * BKEY_JIT_MAX_CODE,
						 &out[kind]);
	}
	return ret;
}

/* Median ns to validate, plan and emit both functions of a format. */
static double compile_ns(const struct bkey_format *f)
{
	u8 buf[2 * BKEY_JIT_MAX_CODE] __aligned(16);
	struct bkey_jit_emitted out[2];
	double samples[COMPILE_RUNS];
	unsigned int r, i;

	for (i = 0; i < COMPILE_BATCH; i++)
		compile_one(f, buf, out);
	for (r = 0; r < COMPILE_RUNS; r++) {
		u64 t = now_ns();

		for (i = 0; i < COMPILE_BATCH; i++)
			compile_one(f, buf, out);
		samples[r] = (double)(now_ns() - t) / COMPILE_BATCH;
	}
	return median(samples, COMPILE_RUNS);
}

/* What each plan is made of: the emitters' cost drivers. */
static void print_plan(const struct bench_fmt *b)
{
	static const char *const names[] = {
		"header", "load", "extract", "funnel", "add", "store",
		"store_imm", "ret",
	};
	unsigned int kind, i;

	for (kind = 0; kind < 2; kind++) {
		unsigned int n[ARRAY_SIZE(names)] = { 0 }, masks = 0, add64 = 0;
		struct bkey_plan plan;

		if (bkey_plan_build(&b->f, kind, &plan))
			continue;
		for (i = 0; i < plan.nr_ops; i++) {
			const struct bkey_plan_op *op = &plan.ops[i];

			n[op->code]++;
			masks += op->code == BKEY_PLAN_EXTRACT && op->mask;
			add64 += op->code == BKEY_PLAN_ADD && op->imm > U32_MAX;
		}
		printf("plan,%s,%s", b->s->name, kind ? "pos" : "full");
		for (i = 0; i < ARRAY_SIZE(names); i++)
			printf(",%s=%u", names[i], n[i]);
		printf(",masked=%u,add_imm64=%u\n", masks, add64);
	}
}

/*
 * The eBPF backend on the suite's keys: instructions the interpreter
 * executes per key (the context loads and EXIT included), for fast and
 * for aligned-only loads, next to the native backend's count. A key the
 * program unpacks wrongly is reported and fails the run.
 */
static int print_ebpf(const struct bench_fmt *b, const struct bkey_jit_emitted native[2])
{
	static struct bpf_insn insns[BKEY_JIT_BPF_MAX_INSNS];
	double per_key[2][2];
	unsigned int v, kind, i, len, nr;

	for (v = 0; v < 2; v++) {
		struct bkey_jit_caps caps = { .unaligned = !v };

		for (kind = 0; kind < 2; kind++) {
			unsigned long executed = 0;
			struct bkey_plan plan;

			if (bkey_plan_build(&b->f, kind, &plan))
				return -1;
			bkey_plan_blind(&plan, get_random_u64());
			if (bkey_jit_bpf_lower(&plan, &caps, insns, &len, &nr))
				return -1;
			for (i = 0; i < NR_KEYS; i++) {
				const struct bkey_packed *p = (void *)(b->packed + i * b->f.key_u64s);
				u64 out[5] __aligned(8), want[5] __aligned(8);
				struct bkey_jit_bpf_ctx ctx = { .dst = out, .src = p };
				struct ebpf_vm vm = {
					.regions = {
						{ &ctx, sizeof(ctx), false },
						{ p, 8 * b->f.key_u64s, false },
						{ out, kind ? sizeof(struct bpos) : sizeof(struct bkey),
						  true },
					},
					.nr_regions	= 3,
					.strict_align	= v,
				};

				memset(out, 0, sizeof(out));
				memset(want, 0, sizeof(want));
				if (kind)
					bkey_jit_unpack_pos_generic(b->j, (void *)want, p);
				else
					bkey_jit_unpack_generic(b->j, (void *)want, p);
				if (ebpf_run(&vm, insns, len, (u64)(unsigned long)&ctx, NULL) ||
				    memcmp(out, want, sizeof(out))) {
					fprintf(stderr, "bench: %s: eBPF key %u wrong: %s\n",
						b->s->name, i, vm.err);
					return -1;
				}
				executed += vm.executed;
			}
			per_key[v][kind] = (double)executed / NR_KEYS;
		}
	}
	printf("ebpf,%s,full=%.1f,pos=%.1f,aligned_full=%.1f,aligned_pos=%.1f,"
	       "native_full=%u,native_pos=%u,ratio_full=%.2f,ratio_pos=%.2f\n",
	       b->s->name, per_key[0][0], per_key[0][1], per_key[1][0], per_key[1][1],
	       native[0].nr_insns, native[1].nr_insns,
	       native[0].nr_insns ? per_key[0][0] / native[0].nr_insns : 0,
	       native[1].nr_insns ? per_key[0][1] / native[1].nr_insns : 0);
	return 0;
}

static void print_static(const struct bench_fmt *b)
{
	u8 buf[2 * BKEY_JIT_MAX_CODE] __aligned(16);
	struct bkey_jit_emitted out[2];
	char text[256];

	bkey_jit_format_to_text(text, sizeof(text), &b->f);
	printf("format,%s,%s,%s\n", b->s->name, b->s->desc, text);
	print_plan(b);
	if (compile_one(&b->f, buf, out)) {
		printf("static,%s,%s,,,,\n", b->s->name, bkey_jit_arch_name);
		return;
	}
	printf("static,%s,%s,%u,%u,%u,%u\n", b->s->name, bkey_jit_arch_name,
	       out[0].len, out[0].nr_insns, out[1].len, out[1].nr_insns);
	printf("oldemit,%s,%u,%s\n", b->s->name, b->old_len,
	       b->old ? "ok" : b->old_skip);
	if (print_ebpf(b, out))
		exit(1);
}

static void dump_code(const struct bench_fmt *b, const char *dir)
{
	u8 buf[2 * BKEY_JIT_MAX_CODE] __aligned(16);
	struct bkey_jit_emitted out[2];
	unsigned int kind;

	if (compile_one(&b->f, buf, out))
		return;
	for (kind = 0; kind < 2; kind++) {
		char path[512];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/%s.%s.bin", dir, b->s->name,
			 kind ? "pos" : "full");
		fp = fopen(path, "w");
		if (!fp) {
			perror(path);
			exit(1);
		}
		fwrite(buf + kind * BKEY_JIT_MAX_CODE + out[kind].entry, 1,
		       out[kind].len - out[kind].entry, fp);
		fclose(fp);
	}
	if (b->old) {
		char path[512];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/%s.old.bin", dir, b->s->name);
		fp = fopen(path, "w");
		if (!fp) {
			perror(path);
			exit(1);
		}
		fwrite(b->old, 1, b->old_len, fp);
		fclose(fp);
	}
}

/*
 * --- scale: the cache with 1 000, 10 000 and 100 000 live formats ---
 *
 * Nearly every btree node has a format of its own, so a node cache of N
 * nodes holds about N unpackers. With N live, time a hit (get + put of a
 * live format, random order), a miss (get of a format never seen, which
 * compiles and publishes, then its put, which frees), and compare the
 * executable memory held with the code in it. Thread CPU time, as for the
 * unpackers: system calls count, time preempted does not.
 */
#define SCALE_MAX		100000
#define SCALE_MISSES		1000	/* per size */
#define SCALE_MISS_BATCH	50	/* misses per timed batch */
#define SCALE_HIT_BATCH		500	/* hits per timed batch */
#define SCALE_HIT_RUNS		21	/* batches, median */

static const unsigned int scale_sizes[] = { 1000, 10000, 100000 };

/* A field of @f whose offset can grow by @room without leaving its range. */
static int scale_field(const struct bkey_format *f, u64 room)
{
	static const unsigned int order[] = {
		BKEY_FIELD_OFFSET, BKEY_FIELD_INODE, BKEY_FIELD_SNAPSHOT,
		BKEY_FIELD_VERSION_LO,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(order); i++) {
		unsigned int fi = order[i], bits = f->bits_per_field[fi];
		u64 umax = ~((~0ULL << 1) << (unpacked_bits[fi] - 1));
		u64 span = bits >= 64 ? U64_MAX : (1ULL << bits) - 1;

		if (bits < unpacked_bits[fi] &&
		    umax - span - le64_to_cpu(f->field_offset[fi]) >= room)
			return fi;
	}
	return -1;
}

/*
 * @n distinct valid formats: the formats of the real-node suites (not the
 * unpacked one), each with one field offset moved by 0, 1, 2, ... as if
 * the node covered keys a little further on.
 */
static struct bkey_format *scale_formats(unsigned int n)
{
	struct bkey_format base[NR_SUITES], *fmts = calloc(n, sizeof(*fmts));
	struct bkey *keys = calloc(NR_KEYS, sizeof(*keys));
	int field[NR_SUITES];
	unsigned int nb = 0, i;

	for (i = 0; i < NR_SUITES; i++) {
		if (suites[i].current)
			continue;
		base[nb] = suite_format(&suites[i], keys);
		field[nb] = scale_field(&base[nb], n);
		if (field[nb] >= 0)
			nb++;
	}
	for (i = 0; i < n; i++) {
		struct bkey_format *f = &fmts[i];
		unsigned int b = i % nb;

		*f = base[b];
		f->field_offset[field[b]] =
			cpu_to_le64(le64_to_cpu(f->field_offset[field[b]]) + i / nb);
		if (bkey_format_validate(f, NULL, 0)) {
			fprintf(stderr, "bench: scale format %u invalid\n", i);
			exit(1);
		}
	}
	free(keys);
	return fmts;
}

static struct bkey_jit *scale_get(const struct bkey_format *f)
{
	struct bkey_jit *j = bkey_jit_get(f);

	if (IS_ERR(j)) {
		fprintf(stderr, "bench: scale: bkey_jit_get failed: %ld\n", PTR_ERR(j));
		exit(1);
	}
	return j;
}

struct scale_hit {
	double	hit_ns;		/* random live formats */
	double	hot_ns;		/* the same 64 formats over and over */
	double	load_ns;	/* one dependent load from a random live unpacker */
};

/*
 * Median ns per get + put over batches of live formats (@hot: the first
 * 64 of them in turn, else random ones). The formats asked for are copied
 * next to each other first: a node's format is in the cache when it is
 * looked up (the node was just read and checked), it is the cache's own
 * memory that is measured.
 */
static double scale_hit_runs(const struct bkey_format *fmts, struct bkey_jit **live,
			     unsigned int n, bool hot)
{
	struct bkey_format *batch = malloc(SCALE_HIT_BATCH * sizeof(*batch));
	unsigned int r, k, wrong = 0;
	double samples[SCALE_HIT_RUNS];
	struct bkey_jit **want = malloc(SCALE_HIT_BATCH * sizeof(*want));
	u64 start = now_ns();

	/* At most ~0.3 s: a slow cache gets fewer batches. */
	for (r = 0; r < SCALE_HIT_RUNS && (r < 5 || now_ns() - start < 300000000ULL); r++) {
		u64 t;

		for (k = 0; k < SCALE_HIT_BATCH; k++) {
			unsigned int i = hot ? k % min(n, 64U) : rng64() % n;

			batch[k] = fmts[i];
			want[k] = live[i];
		}
		t = now_ns();
		for (k = 0; k < SCALE_HIT_BATCH; k++) {
			struct bkey_jit *j = bkey_jit_get(&batch[k]);

			wrong += j != want[k];
			bkey_jit_put(j);
		}
		samples[r] = (double)(now_ns() - t) / SCALE_HIT_BATCH;
	}
	free(batch);
	free(want);
	if (wrong) {
		fprintf(stderr, "bench: scale: %u hits returned another unpacker\n", wrong);
		exit(1);
	}
	return median(samples, r);
}

/*
 * What one access to a random live unpacker costs on this machine: a
 * chain of loads, each from the format of a random live unpacker and each
 * depending on the one before (as the atomics of a get serialise hits).
 * A hit can hardly cost less than this once the cache outgrows the CPU
 * caches.
 */
static double scale_load_floor(struct bkey_jit **live, unsigned int n)
{
	const struct bkey_jit **batch = malloc(SCALE_HIT_BATCH * sizeof(*batch));
	double samples[SCALE_HIT_RUNS];
	unsigned int r, k, v = 0, z = 0;

	/* A zero the compiler cannot see through: the loads stay dependent. */
	__asm__("" : "+r" (z));

	for (r = 0; r < SCALE_HIT_RUNS; r++) {
		u64 t;

		for (k = 0; k < SCALE_HIT_BATCH; k++)
			batch[k] = live[rng64() % n];
		t = now_ns();
		for (k = 0; k < SCALE_HIT_BATCH; k++)
			v += READ_ONCE(batch[k ^ (v & z)]->format.key_u64s);
		samples[r] = (double)(now_ns() - t) / SCALE_HIT_BATCH;
	}
	bench_sink += v;
	free(batch);
	return median(samples, SCALE_HIT_RUNS);
}

static struct scale_hit scale_hits(const struct bkey_format *fmts,
				   struct bkey_jit **live, unsigned int n)
{
	struct scale_hit h;

	h.hit_ns = scale_hit_runs(fmts, live, n, false);
	h.hot_ns = scale_hit_runs(fmts, live, n, true);
	h.load_ns = scale_load_floor(live, n);
	return h;
}

struct scale_miss {
	double	get_ns, put_ns;
	unsigned int no_code;
};

/*
 * Get formats never seen (compile + publish), then put them (free), in
 * batches; median per-format cost of each half.
 */
static struct scale_miss scale_misses(const struct bkey_format *fmts)
{
	double get[SCALE_MISSES / SCALE_MISS_BATCH], put[SCALE_MISSES / SCALE_MISS_BATCH];
	struct bkey_jit *j[SCALE_MISS_BATCH];
	struct scale_miss m = { 0 };
	unsigned int r, k;

	for (r = 0; r < ARRAY_SIZE(get); r++) {
		u64 t0, t1, t2;

		t0 = now_ns();
		for (k = 0; k < SCALE_MISS_BATCH; k++)
			j[k] = scale_get(fmts++);
		t1 = now_ns();
		for (k = 0; k < SCALE_MISS_BATCH; k++) {
			m.no_code += !j[k]->unpack;
			bkey_jit_put(j[k]);
		}
		t2 = now_ns();
		get[r] = (double)(t1 - t0) / SCALE_MISS_BATCH;
		put[r] = (double)(t2 - t1) / SCALE_MISS_BATCH;
	}
	m.get_ns = median(get, ARRAY_SIZE(get));
	m.put_ns = median(put, ARRAY_SIZE(put));
	return m;
}

/*
 * Output: one line per size,
 *   scale,N,hit_ns,miss_ns,miss_get_ns,miss_put_ns,fill_ns,no_code,
 *         bytes_exec,bytes_used,code_bytes,hot_hit_ns,load_ns
 * then a line "scale-ok" once every unpacker is put and nothing leaked.
 */
static int scale_mode(void)
{
	unsigned int nr_misses = SCALE_MISSES * ARRAY_SIZE(scale_sizes);
	struct bkey_format *fmts = scale_formats(SCALE_MAX + nr_misses);
	struct bkey_jit **live = calloc(SCALE_MAX, sizeof(*live));
	unsigned int nlive = 0, s, i, no_code = 0;
	long page = sysconf(_SC_PAGESIZE);
	struct vmalloc_exec_stats vs;
	struct bkey_jit_stats js;

	rng_state = 0x5ca1e;
	for (s = 0; s < ARRAY_SIZE(scale_sizes); s++) {
		unsigned int n = scale_sizes[s], filled = n - nlive;
		struct scale_miss m;
		struct scale_hit hit;
		u64 t = now_ns();

		for (; nlive < n; nlive++) {
			live[nlive] = scale_get(&fmts[nlive]);
			no_code += !live[nlive]->unpack;
		}
		t = now_ns() - t;
		hit = scale_hits(fmts, live, n);
		m = scale_misses(fmts + SCALE_MAX + s * SCALE_MISSES);
		vmalloc_exec_get_stats(&vs);
		bkey_jit_get_stats(&js);
		if (!vs.bytes_exec)	/* an allocator that only counts pages */
			vs.bytes_exec = vs.pages * page;
		printf("scale,%u,%.1f,%.1f,%.1f,%.1f,%.1f,%u,%lu,%lu,%ld,%.1f,%.1f\n", n,
		       hit.hit_ns, m.get_ns + m.put_ns, m.get_ns, m.put_ns,
		       (double)t / filled, no_code + m.no_code, vs.bytes_exec,
		       vs.bytes_used, js.code_bytes, hit.hot_ns, hit.load_ns);
		fflush(stdout);
		if (js.formats != (long)n) {
			fprintf(stderr, "bench: scale: %ld formats cached, want %u\n",
				js.formats, n);
			return 1;
		}
	}
	for (i = 0; i < nlive; i++)
		bkey_jit_put(live[i]);
	bkey_jit_flush();
	bkey_jit_get_stats(&js);
	vmalloc_exec_get_stats(&vs);
	free(live);
	free(fmts);
	if (js.formats || js.code_bytes || vs.bytes_used) {
		fprintf(stderr, "bench: scale: leak: %ld formats, %ld code bytes, %lu exec bytes\n",
			js.formats, js.code_bytes, vs.bytes_used);
		return 1;
	}
	printf("scale-ok\n");
	return 0;
}

/* Timing on one CPU: no migrations, one set of caches. */
static int pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0) {
		if (sched_getaffinity(0, sizeof(set), &set))
			return -1;
		for (cpu = CPU_SETSIZE - 1; cpu >= 0; cpu--)
			if (CPU_ISSET(cpu, &set))
				break;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("sched_setaffinity");
		return -1;
	}
	return cpu;
}

static const struct suite *find_suite(const char *name)
{
	unsigned int i;

	for (i = 0; i < NR_SUITES; i++)
		if (!strcmp(suites[i].name, name))
			return &suites[i];
	fprintf(stderr, "bench: no format %s\n", name);
	exit(2);
}

static int callgrind_mode(const char *mode, const char *name, unsigned int k)
{
	struct bench_fmt b;
	struct bkey dst;
	enum variant v;

	for (v = 0; v < V_NR; v++)
		if (!strcmp(variant_names[v], mode))
			break;
	if (v == V_NR) {
		fprintf(stderr, "bench: no mode %s\n", mode);
		return 2;
	}
	bench_fmt_init(&b, find_suite(name));
	if ((v == V_JIT || v == V_JITPOS) && !b.j->unpack) {
		fprintf(stderr, "bench: no JIT code (fallback %u)\n", b.j->fallback);
		return 1;
	}
	if (v == V_OLD && !b.old) {
		fprintf(stderr, "bench: %s: no old emitter code: %s\n", name, b.old_skip);
		return 1;
	}
	cur_j = b.j;
	cur_f = &b.f;
	bench_sink ^= run_passes(&b, variant_fn(&b, v), k, &dst);
	printf("keys,%u\n", k * NR_KEYS);
	return 0;
}

/*
 * The packed-key compare, counted by callgrind like the unpack: each key
 * against the next one of the node (sorted, so mostly the low position
 * fields decide, as in a sort or a search), through a function pointer
 * from a noipa loop. Modes: harness (the loop alone), jit (the compiled
 * compare, called directly as bkey_jit_cmp_packed() does), generic (our
 * C, bkey_jit_cmp_packed_generic(), one call further: the fallback is
 * inline in bkey_jit_cmp_packed(), this measures the C), bch (6.12's __bkey_cmp_bits() as the inlined
 * bch2_bkey_cmp_packed_inlined() runs it in bkey_sort.c: x86-64 assembly
 * on x86-64, else its C), bchcall (the same one call further, as the
 * out-of-line bch2_bkey_cmp_packed() of bkey.c runs it).
 */
typedef int (*cmp_walk_fn)(const struct bkey_packed *l,
			   const struct bkey_packed *r);

__attribute__((noipa))
int bench_cmp_walk(cmp_walk_fn fn, const struct bkey_packed *k,
		   unsigned int nr)
{
	int sink = 0;

	while (nr--) {
		const struct bkey_packed *n = (const void *)((const u64 *)k + k->u64s);

		sink += fn(k, n);
		k = n;
	}
	return sink;
}

static int cmp_harness(const struct bkey_packed *l, const struct bkey_packed *r)
{
	return l->u64s - r->u64s;
}

static int cmp_generic(const struct bkey_packed *l, const struct bkey_packed *r)
{
	return bkey_jit_cmp_packed_generic(cur_j, l, r);
}

static unsigned int cur_nr_key_bits;

/* What 6.12 runs on this host: the assembly on x86-64, else the C. */
static __always_inline int bch612_cmp_bits_x86_or_c(const u64 *l,
						    const u64 *r,
						    unsigned int nr_key_bits)
{
#ifdef HAVE_BCH612_CMP_BITS_X86
	return bch612_cmp_bits_x86(l, r, nr_key_bits);
#else
	return bch612_cmp_bits_c(l, r, nr_key_bits);
#endif
}

static int cmp_bch(const struct bkey_packed *l, const struct bkey_packed *r)
{
	const u64 *hl = (const u64 *)l + cur_f->key_u64s - 1;
	const u64 *hr = (const u64 *)r + cur_f->key_u64s - 1;

	return bch612_cmp_bits_x86_or_c(hl, hr, cur_nr_key_bits);
}

/* A btree's fields that __bch2_bkey_cmp_packed_format_checked() reads. */
struct bch_cmp_btree {
	struct bkey_format	format;
	unsigned int		nr_key_bits;
};

static struct bch_cmp_btree cur_btree;

noinline
int bch_cmp_packed_call(const struct bkey_packed *l, const struct bkey_packed *r,
			const struct bch_cmp_btree *b)
{
	return bch612_cmp_bits_x86_or_c((const u64 *)l + b->format.key_u64s - 1,
					(const u64 *)r + b->format.key_u64s - 1,
					b->nr_key_bits);
}

static int cmp_bch_call(const struct bkey_packed *l, const struct bkey_packed *r)
{
	return bch_cmp_packed_call(l, r, &cur_btree);
}

/*
 * Compile cost, counted by callgrind: N new formats (random widths and
 * offsets, the realistic and the odd) through the cache, each waited for
 * and put, so that --toggle-collect=bkey_jit_compile sees one native
 * compile (plan, blind, size, allocate, final pass, copy, publish) of
 * each format's three functions.
 */
static int callgrind_compile_mode(unsigned int n)
{
	struct bkey_jit_stats s0, s1;
	unsigned int i;

	bkey_jit_get_stats(&s0);
	for (i = 0; i < n; i++) {
		struct bkey_format f = { 0 };
		struct bkey_jit *j;

		f.bits_per_field[BKEY_FIELD_INODE] = rng64() % 65;
		f.bits_per_field[BKEY_FIELD_OFFSET] = rng64() % 65;
		f.bits_per_field[BKEY_FIELD_SNAPSHOT] = rng64() % 33;
		f.bits_per_field[BKEY_FIELD_SIZE] = rng64() % 33;
		f.bits_per_field[BKEY_FIELD_VERSION_LO] = rng64() % 4 ? 0 : rng64() % 65;
		ref_format_finish(&f);
		if (f.bits_per_field[BKEY_FIELD_OFFSET] < 64)
			f.field_offset[BKEY_FIELD_OFFSET] = rng64() >> 40;
		j = bkey_jit_get(&f);
		if (IS_ERR(j))
			return 1;
		bkey_jit_wait_compiled();
		bkey_jit_put(j);
	}
	bkey_jit_get_stats(&s1);
	printf("compiles,%ld\n", s1.compiles - s0.compiles);
	return 0;
}

static int callgrind_cmp_mode(const char *mode, const char *name, unsigned int k)
{
	struct bench_fmt b;
	cmp_walk_fn fn;
	int sink = 0;

	bench_fmt_init(&b, find_suite(name));
	cur_j = b.j;
	cur_f = &b.f;
	cur_nr_key_bits = bkey_jit_cmp_key_bits(&b.f);
	cur_btree.format = b.f;
	cur_btree.nr_key_bits = cur_nr_key_bits;
	if (!strcmp(mode, "harness")) {
		fn = cmp_harness;
	} else if (!strcmp(mode, "generic")) {
		fn = cmp_generic;
	} else if (!strcmp(mode, "bch")) {
		fn = cmp_bch;
	} else if (!strcmp(mode, "bchcall")) {
		fn = cmp_bch_call;
	} else if (!strcmp(mode, "jit") && b.j->cmp) {
		fn = b.j->cmp;
	} else {
		fprintf(stderr, "bench: no compare mode %s (or no code)\n", mode);
		return 2;
	}
	/* Every mode must order the node's keys as 6.12 does. */
	{
		const struct bkey_packed *p = (const void *)b.packed;
		unsigned int i;

		for (i = 0; i + 1 < NR_KEYS; i++) {
			const struct bkey_packed *n = (const void *)((const u64 *)p + p->u64s);

			if (fn != cmp_harness && fn(p, n) != cmp_bch(p, n)) {
				fprintf(stderr, "bench: %s compare differs from 6.12\n", mode);
				return 1;
			}
			p = n;
		}
	}
	while (k--)
		sink += bench_cmp_walk(fn, (const void *)b.packed, NR_KEYS - 1);
	bench_sink ^= sink;
	printf("keys,%u\n", (NR_KEYS - 1) * 8);
	return 0;
}

/*
 * The compare function's size and cost to compile (plan, blind, emit):
 * "cmpstatic,FORMAT,ARCH,BYTES,INSNS,NS".
 */
static int cmp_static(const char *name)
{
	const struct suite *s = find_suite(name);
	struct bkey_jit_emit_opts o = { 0 };
	struct bkey_jit_emitted out = { 0 };
	double samples[COMPILE_RUNS];
	u8 buf[BKEY_JIT_MAX_CODE] __aligned(16);
	struct bench_fmt b;
	struct bkey_plan plan;
	unsigned int r, i;
	int ret = 0;

	bench_fmt_init(&b, s);
	for (r = 0; r < COMPILE_RUNS; r++) {
		u64 t = now_ns();

		for (i = 0; i < COMPILE_BATCH && !ret; i++) {
			ret = bkey_plan_build(&b.f, BKEY_PLAN_CMP_PACKED, &plan);
			if (!ret)
				bkey_plan_blind(&plan, get_random_u64());
			if (!ret)
				ret = bkey_jit_arch_emit(&plan, &o, buf,
							 (unsigned long)buf, &out);
		}
		samples[r] = (double)(now_ns() - t) / COMPILE_BATCH;
	}
	if (ret)
		return 1;
	printf("cmpstatic,%s,%s,%u,%u,%.1f\n", name, bkey_jit_arch_name,
	       out.len - out.entry, out.nr_insns, median(samples, COMPILE_RUNS));
	return 0;
}

static void print_usage(void)
{
	fprintf(stderr,
		"usage: bench [--no-blind] [--cpu N] | --static-only | --list |\n"
		"       --callgrind harness|jit|jitpos|generic|bch|bchcall|old FORMAT [K] |\n"
		"       --callgrind-cmp harness|jit|generic|bch|bchcall FORMAT |\n"
		"       --callgrind-compile N |\n"
		"       --cmp-static FORMAT |\n"
		"       --dump-code DIR | [--cpu N] --scale\n");
	exit(2);
}

int main(int argc, char **argv)
{
	bool static_only = false, scale = false;
	const char *dump_dir = NULL;
	int cpu = -1;
	unsigned int i;

	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "--no-blind")) {
			/* Plain constants, only to measure what blinding costs. */
			bkey_jit_user_set_blinding(false);
		} else if (!strcmp(argv[i], "--static-only")) {
			static_only = true;
		} else if (!strcmp(argv[i], "--list")) {
			for (i = 0; i < NR_SUITES; i++)
				printf("%s\n", suites[i].name);
			return 0;
		} else if (!strcmp(argv[i], "--callgrind") && i + 2 < (unsigned int)argc) {
			return callgrind_mode(argv[i + 1], argv[i + 2],
					      i + 3 < (unsigned int)argc ?
					      atoi(argv[i + 3]) : 8);
		} else if (!strcmp(argv[i], "--cmp-static") && i + 1 < (unsigned int)argc) {
			return cmp_static(argv[i + 1]);
		} else if (!strcmp(argv[i], "--callgrind-compile") && i + 1 < (unsigned int)argc) {
			return callgrind_compile_mode(atoi(argv[i + 1]));
		} else if (!strcmp(argv[i], "--callgrind-cmp") && i + 2 < (unsigned int)argc) {
			return callgrind_cmp_mode(argv[i + 1], argv[i + 2], 8);
		} else if (!strcmp(argv[i], "--dump-code") && i + 1 < (unsigned int)argc) {
			dump_dir = argv[++i];
		} else if (!strcmp(argv[i], "--scale")) {
			scale = true;
		} else if (!strcmp(argv[i], "--cpu") && i + 1 < (unsigned int)argc) {
			cpu = atoi(argv[++i]);
		} else {
			print_usage();
		}
	}

	if (!static_only && !dump_dir) {
		u64 t;

		cpu = pin_cpu(cpu);
		printf("cpu,%d\n", cpu);
		if (scale)
			return scale_mode();
		/*
		 * Spin ~300 ms first: the first format timed must not pay for
		 * the CPU leaving a low-power state or a frequency ramp.
		 */
		for (t = now_ns(); now_ns() - t < 300000000ULL;)
			bench_sink++;
	}

	for (i = 0; i < NR_SUITES; i++) {
		struct bench_fmt b;
		double ns[V_NR];
		unsigned int v;

		bench_fmt_init(&b, &suites[i]);
		if (dump_dir) {
			dump_code(&b, dump_dir);
			continue;
		}
		print_static(&b);
		if (static_only)
			continue;
		bench_fmt_check(&b);
		if (!b.j->unpack) {
			fprintf(stderr, "bench: %s: no JIT code (fallback %u)\n",
				b.s->name, b.j->fallback);
			return 1;
		}
		printf("compile,%s,%.1f\n", b.s->name, compile_ns(&b.f));
		time_format(&b, ns);
		printf("time,%s", b.s->name);
		for (v = 0; v < V_NR; v++)
			if (ns[v] >= 0)
				printf(",%s=%.3f", variant_names[v], ns[v]);
		printf("\n");
		fflush(stdout);
	}
	return 0;
}
