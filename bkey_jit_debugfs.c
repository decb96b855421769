// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/bkey_jit/: stats, the cached formats and their code,
 * the mode and an in-kernel benchmark of the native and eBPF backends' code
 * against the generic C unpack.
 */
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/ktime.h>
#include <linux/random.h>
#include <linux/seq_file.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "bkey_jit.h"
#include "bkey_jit_plan.h"
#include "vmalloc_exec.h"

static const char * const bkey_jit_mode_names[] = { "off", "on", "verify" };
static const char * const bkey_jit_fallback_names[] = {
	[BKEY_JIT_FALLBACK_NONE]	= "none",
	[BKEY_JIT_FALLBACK_MODE_OFF]	= "mode_off",
	[BKEY_JIT_FALLBACK_NO_ARCH]	= "no_arch",
	[BKEY_JIT_FALLBACK_NOMEM]	= "nomem",
	[BKEY_JIT_FALLBACK_CAP]		= "cap",
	[BKEY_JIT_FALLBACK_EMIT]	= "emit",
	[BKEY_JIT_FALLBACK_CFI]		= "cfi",
	[BKEY_JIT_FALLBACK_PENDING]	= "pending",
	[BKEY_JIT_FALLBACK_BUSY]	= "busy",
	[BKEY_JIT_FALLBACK_BACKEND]	= "backend",
	[BKEY_JIT_FALLBACK_NOT_JITED]	= "not_jited",
};

static_assert(ARRAY_SIZE(bkey_jit_fallback_names) == BKEY_JIT_FALLBACK_NR);

static const char * const bkey_jit_phase_names[] = {
	[BKEY_JIT_PHASE_PLAN]	= "plan",
	[BKEY_JIT_PHASE_ALLOC]	= "alloc",
	[BKEY_JIT_PHASE_EMIT]	= "emit",
	[BKEY_JIT_PHASE_COPY]	= "copy",
};

static_assert(ARRAY_SIZE(bkey_jit_phase_names) == BKEY_JIT_PHASE_NR);

static int bkey_jit_stats_show(struct seq_file *m, void *v)
{
	struct bkey_jit_stats s;
	struct vmalloc_exec_stats x;
	unsigned int i;

	bkey_jit_get_stats(&s);
	vmalloc_exec_get_stats(&x);
	seq_printf(m, "mode\t\t\t%s\n", bkey_jit_mode_names[bkey_jit_get_mode()]);
	seq_printf(m, "backend\t\t\t%s\n",
		   bkey_jit_backend_names[bkey_jit_get_backend()]);
	seq_printf(m, "formats_cached\t\t%ld\n", s.formats);
	seq_printf(m, "compiles\t\t%ld\n", s.compiles);
	seq_printf(m, "compiles_ebpf\t\t%ld\n", s.ebpf_compiles);
	seq_printf(m, "native_backend\t\t%s\n", bkey_jit_arch_name ?: "none");
	seq_printf(m, "cache_hits\t\t%ld\n", s.cache_hits);
	seq_printf(m, "invalid_formats\t\t%ld\n", s.invalid_formats);
	for (i = 1; i < BKEY_JIT_FALLBACK_NR; i++)
		if (i != BKEY_JIT_FALLBACK_PENDING)
			seq_printf(m, "fallback_%s\t\t%ld\n",
				   bkey_jit_fallback_names[i], s.fallbacks[i]);
	seq_printf(m, "jit_unpacks_verified\t%ld\n", s.jit_unpacks);
	seq_printf(m, "generic_unpacks\t\t%ld\n", s.generic_unpacks);
	seq_printf(m, "verify_mismatches\t%ld\n", s.verify_mismatches);
	seq_printf(m, "code_bytes\t\t%ld\n", s.code_bytes);
	seq_printf(m, "pending_frees\t\t%ld\n", s.pending_frees);
	seq_printf(m, "compile_ns_avg\t\t%llu\n",
		   s.compiles ? s.compile_ns / s.compiles : 0);
	for (i = 0; i < BKEY_JIT_PHASE_NR; i++)
		seq_printf(m, "compile_%s_ns_avg\t%llu\n", bkey_jit_phase_names[i],
			   s.compiles ? s.compile_phase_ns[i] / s.compiles : 0);
	seq_printf(m, "exec_bytes_used\t\t%lu\n", x.bytes_used);
	seq_printf(m, "exec_bytes_cap\t\t%lu\n", x.bytes_cap);
	seq_printf(m, "exec_pages\t\t%lu\n", x.pages);
	seq_printf(m, "exec_bytes_held\t\t%lu\n", x.bytes_exec);
	seq_printf(m, "exec_allocs\t\t%lu\n", x.allocs);
	seq_printf(m, "exec_frees\t\t%lu\n", x.frees);
	seq_printf(m, "exec_failed\t\t%lu\n", x.failed);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bkey_jit_stats);

static void bkey_jit_format_show_one(const struct bkey_jit *j,
				     const struct bkey_jit_info *info, void *arg)
{
	struct seq_file *m = arg;
	char buf[200];

	bkey_jit_format_to_text(buf, sizeof(buf), &j->format);
	seq_printf(m, "%s refs %u backend %s code %pK len %u insns %u/%u/%u fallback %s\n",
		   buf, info->refcount, info->backend, info->code, info->code_len,
		   info->unpack_insns, info->pos_insns, info->cmp_insns,
		   bkey_jit_fallback_names[READ_ONCE(j->fallback)]);
}

static int bkey_jit_formats_show(struct seq_file *m, void *v)
{
	bkey_jit_for_each(bkey_jit_format_show_one, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bkey_jit_formats);

/* The plan text of one unpacker; the callback may not sleep or allocate. */
static char bkey_jit_code_plan[4096];
static DEFINE_MUTEX(bkey_jit_code_lock);

static void bkey_jit_code_show_plan(struct seq_file *m,
				    const struct bkey_format *f, unsigned int kind)
{
	static const char *const names[] = { "unpack", "unpack_pos", "cmp" };
	int n = bkey_jit_plan_to_text(bkey_jit_code_plan,
				      sizeof(bkey_jit_code_plan), f, kind);

	seq_printf(m, "plan %s (before blinding: the keys are not kept)\n",
		   names[kind]);
	if (n >= 0)
		seq_puts(m, bkey_jit_code_plan);
}

/*
 * One unpacker as "bpftool prog dump jited" shows a program: format,
 * plans, and the code bytes as they are in executable memory, 16 to a
 * line after their offset, with the two entry offsets.
 */
static void bkey_jit_code_show_one(const struct bkey_jit *j,
				   const struct bkey_jit_info *info, void *arg)
{
	struct seq_file *m = arg;
	const u8 *code = info->code;
	unsigned int off;
	char buf[200];

	bkey_jit_format_to_text(buf, sizeof(buf), &j->format);
	seq_printf(m, "format %s\n", buf);
	bkey_jit_code_show_plan(m, &j->format, 0);
	bkey_jit_code_show_plan(m, &j->format, 1);
	bkey_jit_code_show_plan(m, &j->format, 2);
	if (!code) {
		/* generic, or eBPF: its code is the BPF JIT's, not listed */
		seq_printf(m, "code none backend %s insns %u/%u/%u fallback %s\n\n",
			   info->backend, info->unpack_insns, info->pos_insns,
			   info->cmp_insns,
			   bkey_jit_fallback_names[j->fallback]);
		return;
	}
	seq_printf(m, "code %s len %u unpack_entry %u pos_entry %u cmp_entry %u insns %u/%u/%u\n",
		   bkey_jit_arch_name ?: "none", info->code_len,
		   info->unpack_entry, info->pos_entry, info->cmp_entry,
		   info->unpack_insns, info->pos_insns, info->cmp_insns);
	for (off = 0; off < info->code_len; off += 16)
		seq_printf(m, "%04x: %*ph\n", off,
			   (int)min(16U, info->code_len - off), code + off);
	seq_putc(m, '\n');
}

static int bkey_jit_code_show(struct seq_file *m, void *v)
{
	mutex_lock(&bkey_jit_code_lock);
	bkey_jit_for_each(bkey_jit_code_show_one, m);
	mutex_unlock(&bkey_jit_code_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bkey_jit_code);

static ssize_t bkey_jit_mode_read(struct file *file, char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	char buf[16];
	int n = scnprintf(buf, sizeof(buf), "%s\n",
			  bkey_jit_mode_names[bkey_jit_get_mode()]);

	return simple_read_from_buffer(ubuf, count, ppos, buf, n);
}

static ssize_t bkey_jit_mode_write(struct file *file, const char __user *ubuf,
				   size_t count, loff_t *ppos)
{
	char buf[16];
	int i;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = 0;
	i = sysfs_match_string(bkey_jit_mode_names, buf);
	if (i < 0)
		return -EINVAL;
	return bkey_jit_set_mode(i) ?: count;
}

static const struct file_operations bkey_jit_mode_fops = {
	.owner	= THIS_MODULE,
	.read	= bkey_jit_mode_read,
	.write	= bkey_jit_mode_write,
	.llseek	= default_llseek,
};

static int bkey_jit_cap_get(void *data, u64 *val)
{
	*val = bkey_jit_get_code_cap();
	return 0;
}

static int bkey_jit_cap_set(void *data, u64 val)
{
	bkey_jit_set_code_cap(val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(bkey_jit_cap_fops, bkey_jit_cap_get, bkey_jit_cap_set,
			 "%llu\n");

/* ---- benchmark ---- */

#define BENCH_KEYS	4096
#define BENCH_RUNS	7

struct bench_format {
	const char		*name;
	struct bkey_format	f;
};

#define BENCH_FMT(_name, b0, b1, b2, b3, b4, b5, o0, o1, o2)		\
	{ .name = _name, .f = { .nr_fields = BKEY_NR_FIELDS,		\
		.bits_per_field = { b0, b1, b2, b3, b4, b5 },		\
		.field_offset = { o0, o1, o2 } } }

/* Shapes of real nodes, as bch2_bkey_format_done() computes them. */
static const struct bench_format bench_suite[] = {
	BENCH_FMT("extents", 0, 20, 0, 8, 0, 0, 4096, 65536, U32_MAX),
	BENCH_FMT("inodes", 0, 20, 0, 0, 0, 0, 0, 4096, U32_MAX),
	BENCH_FMT("dirents", 0, 64, 0, 0, 0, 0, 4099, 0, U32_MAX),
	BENCH_FMT("alloc", 0, 18, 0, 0, 0, 0, 0, 0, 0),
	BENCH_FMT("extents+snap", 0, 24, 5, 8, 0, 0, 4096, 0, U32_MAX - 31),
	BENCH_FMT("straddle", 40, 50, 30, 20, 10, 40, 0, 0, 0),
	BENCH_FMT("current", 64, 64, 32, 32, 32, 64, 0, 0, 0),
};

static struct bench_format bench_user_format;
static bool bench_user_set;
static DEFINE_MUTEX(bench_lock);

static void bench_finish_format(struct bkey_format *f)
{
	unsigned int i, bits = KEY_PACKED_BITS_START;

	for (i = 0; i < BKEY_NR_FIELDS; i++)
		bits += f->bits_per_field[i];
	f->key_u64s = DIV_ROUND_UP(bits, 64);
}

/* Random bits in the key's words, a valid header: enough for timing. */
static void bench_fill_keys(const struct bkey_format *f, u64 *keys)
{
	unsigned int i, w;

	for (i = 0; i < BENCH_KEYS; i++) {
		for (w = 0; w < f->key_u64s; w++)
			keys[i * f->key_u64s + w] = get_random_u64();
		((struct bkey_packed *)&keys[i * f->key_u64s])->u64s = f->key_u64s;
		((struct bkey_packed *)&keys[i * f->key_u64s])->format = 0;
	}
	/* the equal copies the compare runs against, right after */
	memcpy(keys + BENCH_KEYS * f->key_u64s, keys,
	       BENCH_KEYS * f->key_u64s * sizeof(u64));
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * What one column of the benchmark runs: bkey_jit_unpack() as bcachefs
 * calls it, on an unpacker compiled by one backend (native, eBPF) or left
 * without code (fallback: the slow path, as a capped or refused format
 * runs it), or bkey_jit_unpack_generic() alone.
 */
enum bench_col {
	BENCH_NATIVE,
	BENCH_EBPF,
	BENCH_FALLBACK,
	BENCH_GENERIC,
	BENCH_NR_COLS,
};

static const enum bkey_jit_backend_choice bench_col_backend[] = {
	[BENCH_NATIVE]		= BKEY_JIT_BACKEND_NATIVE,
	[BENCH_EBPF]		= BKEY_JIT_BACKEND_EBPF,
	[BENCH_FALLBACK]	= BKEY_JIT_BACKEND_GENERIC,
};

/*
 * One key's work: an unpack, or a compare of the key with an equal copy
 * of itself (every position word compared: a compare's longest path, and
 * the common one between neighbours in a node, which share their high
 * words).
 */
static __always_inline u64 bench_key(const struct bkey_jit *j,
				     const struct bkey_packed *k,
				     const struct bkey_packed *copy,
				     struct bkey *out, enum bench_col col,
				     bool cmp)
{
	if (cmp)
		return col == BENCH_GENERIC ?
			bkey_jit_cmp_packed_generic(j, k, copy) :
			bkey_jit_cmp_packed(j, k, copy);
	if (col == BENCH_GENERIC)
		bkey_jit_unpack_generic(j, out, k);
	else
		bkey_jit_unpack(j, out, k);
	return out->p.offset;
}

/*
 * Median ns per key of one pass over all keys. Inlined into each call
 * with constant @col and @cmp, so the timed loop holds only the work.
 */
static __always_inline u64 bench_run(const struct bkey_jit *j,
				     const u64 *keys, enum bench_col col,
				     bool cmp)
{
	unsigned int n = j->format.key_u64s, r, i;
	const u64 *copies = keys + BENCH_KEYS * n;
	u64 t[BENCH_RUNS], sink = 0;
	/* out here, not in the loop: CONFIG_INIT_STACK_ALL_ZERO zeroes it */
	struct bkey out;

	for (r = 0; r < BENCH_RUNS; r++) {
		u64 start = ktime_get_ns();

		for (i = 0; i < BENCH_KEYS; i++)
			sink += bench_key(j, (const void *)&keys[i * n],
					  (const void *)&copies[i * n], &out, col,
					  cmp);
		t[r] = ktime_get_ns() - start;
		cond_resched();
	}
	OPTIMIZER_HIDE_VAR(sink);
	sort(t, BENCH_RUNS, sizeof(t[0]), cmp_u64, NULL);
	return t[BENCH_RUNS / 2] * 1000 / BENCH_KEYS;	/* picoseconds */
}

struct bench_lookup {
	const struct bkey_jit	*j;
	const char		*backend;	/* a string literal */
};

static void bench_lookup_fn(const struct bkey_jit *j,
			    const struct bkey_jit_info *info, void *arg)
{
	struct bench_lookup *l = arg;

	if (j == l->j)
		l->backend = info->backend;
}

/*
 * The unpacker for @f compiled by @col's backend, or NULL when that
 * backend is not available here (no emitter, no BPF JIT) or the format is
 * cached already with another backend's code (in use by a mounted fs).
 * The backend choice is switched for the compile and restored: formats
 * another user compiles meanwhile get it too, so bench an idle system.
 */
static struct bkey_jit *bench_get(const struct bkey_format *f,
				  enum bench_col col)
{
	enum bkey_jit_backend_choice saved = bkey_jit_get_backend();
	struct bench_lookup l = { };
	struct bkey_jit *j;
	bool want;

	bkey_jit_set_backend(bench_col_backend[col]);
	j = bkey_jit_get(f);
	bkey_jit_wait_compiled();
	bkey_jit_set_backend(saved);
	if (IS_ERR(j))
		return NULL;

	l.j = j;
	bkey_jit_for_each(bench_lookup_fn, &l);
	switch (col) {
	case BENCH_EBPF:
		want = l.backend && !strcmp(l.backend, "ebpf");
		break;
	case BENCH_FALLBACK:
		want = !READ_ONCE(j->unpack) && l.backend &&
		       !strcmp(l.backend, "generic");
		break;
	default:
		want = READ_ONCE(j->unpack);
		break;
	}
	if (want)
		return j;
	bkey_jit_put(j);
	return NULL;
}

static void bench_print_ps(struct seq_file *m, u64 ps)
{
	if (ps)
		seq_printf(m, " %8llu.%02llu", ps / 1000, ps % 1000 / 10);
	else
		seq_printf(m, " %11s", "-");
}

/* @a / @b with one decimal, or "-" */
static void bench_print_ratio(struct seq_file *m, u64 a, u64 b)
{
	if (a && b)
		seq_printf(m, " %7llu.%llu", a / b, a * 10 / b % 10);
	else
		seq_printf(m, " %9s", "-");
}

static void bench_print_row(struct seq_file *m, const char *name,
			    const char *what, const u64 *ps)
{
	unsigned int col;

	seq_printf(m, "%-10s %-3s", name, what);
	for (col = 0; col < BENCH_NR_COLS; col++)
		bench_print_ps(m, ps[col]);
	bench_print_ratio(m, ps[BENCH_GENERIC], ps[BENCH_NATIVE]);
	bench_print_ratio(m, ps[BENCH_GENERIC], ps[BENCH_EBPF]);
	bench_print_ratio(m, ps[BENCH_EBPF], ps[BENCH_NATIVE]);
	seq_putc(m, '\n');
}

static void bench_one(struct seq_file *m, const struct bench_format *bf,
		      u64 *keys)
{
	u64 ps[BENCH_NR_COLS] = { }, cmp[BENCH_NR_COLS] = { };
	struct bkey_format f = bf->f;
	struct bkey_jit *j;
	unsigned int col;

	bench_finish_format(&f);
	if (bkey_format_validate(&f, NULL, 0)) {
		seq_printf(m, "%-14s invalid format\n", bf->name);
		return;
	}
	bench_fill_keys(&f, keys);
	for (col = 0; col < BENCH_GENERIC; col++) {
		/* each column its own unpacker: the last put drops the code */
		j = bench_get(&f, col);
		if (!j)
			continue;
		ps[col] = bench_run(j, keys, col, false);
		cmp[col] = bench_run(j, keys, col, true);
		if (col == BENCH_FALLBACK) {
			ps[BENCH_GENERIC] = bench_run(j, keys, BENCH_GENERIC, false);
			cmp[BENCH_GENERIC] = bench_run(j, keys, BENCH_GENERIC, true);
		}
		bkey_jit_put(j);
	}
	bench_print_row(m, bf->name, "unp", ps);
	bench_print_row(m, bf->name, "cmp", cmp);
}

static int bkey_jit_bench_show(struct seq_file *m, void *v)
{
	u64 *keys = vmalloc(2 * BENCH_KEYS * BKEY_U64s * sizeof(u64));
	unsigned int i;

	if (!keys)
		return -ENOMEM;
	seq_puts(m, "# ns/key over 4096 keys, median of 7 runs (qemu -icount shift=0: ns = instructions)\n");
	seq_puts(m, "# unp: native, ebpf: bkey_jit_unpack() with that backend's code; fallback: bkey_jit_unpack()\n");
	seq_puts(m, "# without code (slow path); generic: bkey_jit_unpack_generic() alone; - = unavailable\n");
	seq_puts(m, "# cmp: the same for bkey_jit_cmp_packed() of the key and an equal copy (every word)\n");
	if (bkey_jit_get_mode() != BKEY_JIT_MODE_ON)
		seq_printf(m, "# mode is %s, not on: every column runs the generic C\n",
			   bkey_jit_mode_names[bkey_jit_get_mode()]);
	seq_printf(m, "%-14s %11s %11s %11s %11s %9s %9s %9s\n", "format   op",
		   "native_ns", "ebpf_ns", "fallback_ns", "generic_ns",
		   "gen/nat", "gen/ebpf", "ebpf/nat");
	mutex_lock(&bench_lock);
	if (bench_user_set)
		bench_one(m, &bench_user_format, keys);
	else
		for (i = 0; i < ARRAY_SIZE(bench_suite); i++)
			bench_one(m, &bench_suite[i], keys);
	mutex_unlock(&bench_lock);
	vfree(keys);
	return 0;
}

static int bkey_jit_bench_open(struct inode *inode, struct file *file)
{
	return single_open(file, bkey_jit_bench_show, NULL);
}

/*
 * Write "b0 b1 b2 b3 b4 b5 [o0 o1 o2 o3 o4 o5]" to benchmark one format,
 * or an empty line for the default suite.
 */
static ssize_t bkey_jit_bench_write(struct file *file, const char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	struct bench_format bf = { .name = "user" };
	unsigned int b[6];
	unsigned long long o[6] = { 0 };
	char buf[256];
	int n;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = 0;

	n = sscanf(buf, "%u %u %u %u %u %u %llu %llu %llu %llu %llu %llu",
		   &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &o[0], &o[1], &o[2], &o[3], &o[4], &o[5]);
	mutex_lock(&bench_lock);
	if (n <= 0) {
		bench_user_set = false;
	} else if (n == 6 || n == 12) {
		bf.f.nr_fields = BKEY_NR_FIELDS;
		for (n = 0; n < 6; n++) {
			bf.f.bits_per_field[n] = b[n];
			bf.f.field_offset[n] = cpu_to_le64(o[n]);
		}
		bench_user_format = bf;
		bench_user_set = true;
	} else {
		count = -EINVAL;
	}
	mutex_unlock(&bench_lock);
	return count;
}

static const struct file_operations bkey_jit_bench_fops = {
	.owner		= THIS_MODULE,
	.open		= bkey_jit_bench_open,
	.read		= seq_read,
	.write		= bkey_jit_bench_write,
	.llseek		= seq_lseek,
	.release	= single_release,
};

/* ---- scale: the cache with many live formats ---- */

#define SCALE_HITS	100000
static unsigned int scale_sizes[4] = { 1000, 10000 };
static DEFINE_MUTEX(scale_lock);

/* The i-th of many distinct valid formats: extents with moving offsets. */
static void scale_format(struct bkey_format *f, unsigned int i)
{
	*f = bench_suite[0].f;
	f->field_offset[1] = cpu_to_le64(65536 + i);
	bench_finish_format(f);
}

static u64 scale_hits(unsigned int n)
{
	struct bkey_format f;
	u64 start = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < SCALE_HITS; i++) {
		scale_format(&f, get_random_u32_below(n));
		bkey_jit_put(bkey_jit_get(&f));
		if (!(i % 1024))
			cond_resched();
	}
	return (ktime_get_ns() - start) / SCALE_HITS;
}

/*
 * What the compiles of one size cost on average, and where it went (the
 * native backend's phases): read here, on an idle system, rather than
 * from the stats after a workload, where preemption of the work item by
 * the workload lands in the average.
 */
static void scale_print_compile(struct seq_file *m,
				const struct bkey_jit_stats *a,
				const struct bkey_jit_stats *b)
{
	long n = b->compiles - a->compiles;
	unsigned int p;

	if (n <= 0) {
		seq_puts(m, "          -\n");
		return;
	}
	seq_printf(m, " %10llu", (b->compile_ns - a->compile_ns) / n);
	for (p = 0; p < BKEY_JIT_PHASE_NR; p++)
		seq_printf(m, " %6llu", (b->compile_phase_ns[p] -
					 a->compile_phase_ns[p]) / n);
	seq_putc(m, '\n');
}

/* Get n new formats (compiled by the work item in batches), then hits. */
static void scale_one(struct seq_file *m, unsigned int n)
{
	struct bkey_jit **j = vcalloc(n, sizeof(*j));
	struct vmalloc_exec_stats x;
	struct bkey_jit_stats s0, s;
	struct bkey_format f;
	u64 start, miss_ns;
	unsigned int i;

	if (!j) {
		seq_printf(m, "%8u no memory\n", n);
		return;
	}
	bkey_jit_get_stats(&s0);
	start = ktime_get_ns();
	for (i = 0; i < n; i++) {
		scale_format(&f, i);
		j[i] = bkey_jit_get(&f);
	}
	bkey_jit_wait_compiled();
	miss_ns = (ktime_get_ns() - start) / n;

	bkey_jit_get_stats(&s);
	vmalloc_exec_get_stats(&x);
	seq_printf(m, "%8u %10llu %10llu %10ld %10lu %9lu.%02lu", n,
		   scale_hits(n), miss_ns, s.code_bytes, x.bytes_exec,
		   s.code_bytes ? x.bytes_exec / s.code_bytes : 0,
		   s.code_bytes ? x.bytes_exec * 100 / s.code_bytes % 100 : 0);
	scale_print_compile(m, &s0, &s);

	for (i = 0; i < n; i++)
		bkey_jit_put(j[i]);
	vfree(j);
	bkey_jit_flush();
}

static int bkey_jit_bench_scale_show(struct seq_file *m, void *v)
{
	unsigned int i;

	seq_puts(m, "# get+put of a live format (hit), get+compile+publish of a new one\n");
	seq_puts(m, "# (miss, compiled in batches by the work item), executable/code bytes;\n");
	seq_puts(m, "# compile_ns: of a miss, the compile alone (validate, plan, blind, size: plan;\n");
	seq_puts(m, "# vmalloc_exec_alloc(): alloc; final pass: emit; text copy: copy)\n");
	seq_printf(m, "%8s %10s %10s %10s %10s %12s %10s %6s %6s %6s %6s\n",
		   "formats", "hit_ns", "miss_ns", "code_B", "exec_B",
		   "exec/code", "compile_ns", "plan", "alloc", "emit", "copy");
	mutex_lock(&scale_lock);
	for (i = 0; i < ARRAY_SIZE(scale_sizes) && scale_sizes[i]; i++)
		scale_one(m, scale_sizes[i]);
	mutex_unlock(&scale_lock);
	return 0;
}

static int bkey_jit_bench_scale_open(struct inode *inode, struct file *file)
{
	return single_open(file, bkey_jit_bench_scale_show, NULL);
}

/* Write up to four sizes ("1000 10000 100000") to measure at. */
static ssize_t bkey_jit_bench_scale_write(struct file *file,
					  const char __user *ubuf,
					  size_t count, loff_t *ppos)
{
	unsigned int n[4] = { 0 };
	char buf[64];
	int i, nr;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = 0;
	nr = sscanf(buf, "%u %u %u %u", &n[0], &n[1], &n[2], &n[3]);
	if (nr <= 0)
		return -EINVAL;
	for (i = 0; i < nr; i++)
		if (!n[i] || n[i] > 1000000)
			return -EINVAL;
	mutex_lock(&scale_lock);
	memcpy(scale_sizes, n, sizeof(n));
	mutex_unlock(&scale_lock);
	return count;
}

static const struct file_operations bkey_jit_bench_scale_fops = {
	.owner		= THIS_MODULE,
	.open		= bkey_jit_bench_scale_open,
	.read		= seq_read,
	.write		= bkey_jit_bench_scale_write,
	.llseek		= seq_lseek,
	.release	= single_release,
};

static struct dentry *bkey_jit_debugfs_dir;

#ifdef MODULE
int __init bkey_jit_debugfs_init(void)
#else
static int __init bkey_jit_debugfs_init(void)
#endif
{
	struct dentry *dir = debugfs_create_dir("bkey_jit", NULL);

	bkey_jit_debugfs_dir = dir;
	debugfs_create_file("stats", 0444, dir, NULL, &bkey_jit_stats_fops);
	debugfs_create_file("formats", 0444, dir, NULL, &bkey_jit_formats_fops);
	/* Root only: the bytes are the code's layout, keys included. */
	debugfs_create_file("code", 0400, dir, NULL, &bkey_jit_code_fops);
	debugfs_create_file("mode", 0644, dir, NULL, &bkey_jit_mode_fops);
	debugfs_create_file("bench", 0644, dir, NULL, &bkey_jit_bench_fops);
	debugfs_create_file("bench_scale", 0644, dir, NULL,
			    &bkey_jit_bench_scale_fops);
	debugfs_create_file_unsafe("code_cap", 0644, dir, NULL, &bkey_jit_cap_fops);
	return 0;
}

#ifdef MODULE
/*
 * Before the module's text goes: debugfs_remove_recursive() waits for
 * readers inside a file's operations and cuts off the open files.
 */
void bkey_jit_debugfs_exit(void)
{
	debugfs_remove_recursive(bkey_jit_debugfs_dir);
	bkey_jit_debugfs_dir = NULL;
}
#else
late_initcall(bkey_jit_debugfs_init);
#endif
