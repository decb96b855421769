// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace self-test of the x86-64 bkey-jit encoder (x86-64 hosts only).
 *
 * Build and run (from the repository root):
 *
 *   gcc -O2 -g -Wall -Wextra -I. -o /tmp/x86t \
 *       <this file> arch/x86/bkey_jit_emit.c && /tmp/x86t
 *
 * or tests/emit_x86_selftest.sh, which does the same.
 *
 * Hand-built plans cover every op and encoding branch; each one is emitted
 * into an mmap'ed page (written RW, run R+X, never RWX), run on many source
 * keys and compared with a C interpreter of the plan semantics of
 * bkey_jit_plan.h. The sizing pass must agree with the real one, nothing may
 * be written past the reported length, and objdump must decode every
 * function without "(bad)" into exactly nr_insns instructions.
 */
#include "bkey_jit_plan.h"

#include <stdarg.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "emit_x86_selftest runs x86-64 code: build it on an x86-64 host"
#endif

#define PAGE		4096
#define THUNK_OFF	4000	/* a "ret" the return-thunk jmp lands on */
#define NR_SRCS		6

static unsigned int passed, failed;
static u8 *page;
static u64 rng_state = 0x9e3779b97f4a7c15ULL;

static u64 rnd(void)
{
	u64 x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	failed++;
	if (failed > 50)
		return;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* ---- plan construction ---- */

static void plan_init(struct bkey_plan *p, u8 kind)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
}

static struct bkey_plan_op *plan_op(struct bkey_plan *p, u8 code, u8 reg,
				    u8 size)
{
	struct bkey_plan_op *op = &p->ops[p->nr_ops++];

	op->code = code;
	op->reg = reg;
	op->size = size;
	return op;
}

static void op_load(struct bkey_plan *p, u8 reg, u8 size, u8 off)
{
	plan_op(p, BKEY_PLAN_LOAD, reg, size)->off = off;
}

static void op_extract(struct bkey_plan *p, u8 reg, u8 size, u8 shift,
		       u8 width, u8 mask)
{
	struct bkey_plan_op *op = plan_op(p, BKEY_PLAN_EXTRACT, reg, size);

	op->shift = shift;
	op->width = width;
	op->mask = mask;
}

static void op_funnel(struct bkey_plan *p, u8 reg, u8 reg2, u8 size,
		      u8 shift, u8 width)
{
	struct bkey_plan_op *op = plan_op(p, BKEY_PLAN_FUNNEL, reg, size);

	op->reg2 = reg2;
	op->shift = shift;
	op->width = width;
}

static void op_add(struct bkey_plan *p, u8 reg, u8 size, u64 imm)
{
	plan_op(p, BKEY_PLAN_ADD, reg, size)->imm = imm;
}

static void op_store(struct bkey_plan *p, u8 reg, u8 size, u8 off)
{
	plan_op(p, BKEY_PLAN_STORE, reg, size)->off = off;
}

static void op_store_imm(struct bkey_plan *p, u8 size, u8 off, u64 imm)
{
	struct bkey_plan_op *op = plan_op(p, BKEY_PLAN_STORE_IMM, 0, size);

	op->off = off;
	op->imm = imm;
}

static void op_header(struct bkey_plan *p, u64 imm)
{
	plan_op(p, BKEY_PLAN_HEADER, 0, 0)->imm = imm;
}

static void op_ret(struct bkey_plan *p)
{
	plan_op(p, BKEY_PLAN_RET, 0, 0);
}

/* ---- reference interpreter of the plan semantics ---- */

static u64 mask_of(unsigned int width)
{
	return width >= 64 ? ~0ULL : (1ULL << width) - 1;
}

static void interp(const struct bkey_plan *p, u8 *dst, const u8 *src)
{
	u64 r[BKEY_PLAN_NR_REGS] = { 0 };
	unsigned int i;

	for (i = 0; i < p->nr_ops; i++) {
		unsigned __int128 wide;
		const struct bkey_plan_op *op = &p->ops[i];

		switch (op->code) {
		case BKEY_PLAN_HEADER:
			dst[0] = (u8)(src[0] + op->imm);
			dst[1] = (src[1] & 0x80) | 1;
			dst[2] = src[2];
			dst[3] = 0;
			break;
		case BKEY_PLAN_LOAD:
			r[op->reg] = 0;
			memcpy(&r[op->reg], src + op->off, op->size);
			break;
		case BKEY_PLAN_EXTRACT:
			r[op->reg] >>= op->shift;
			if (op->mask)
				r[op->reg] &= mask_of(op->width);
			break;
		case BKEY_PLAN_FUNNEL:
			wide = ((unsigned __int128)r[op->reg2] << 64) | r[op->reg];
			r[op->reg] = (u64)(wide >> op->shift) & mask_of(op->width);
			break;
		case BKEY_PLAN_ADD:
			r[op->reg] += bkey_plan_op_value(op);
			if (op->size == 4)
				r[op->reg] = (u32)r[op->reg];
			break;
		case BKEY_PLAN_STORE:
			memcpy(dst + op->off, &r[op->reg], op->size);
			break;
		case BKEY_PLAN_STORE_IMM: {
			u64 v = bkey_plan_op_value(op);

			memcpy(dst + op->off, &v, op->size);
			break;
		}
		case BKEY_PLAN_RET:
			return;
		}
	}
}

/* ---- functions kept for the objdump pass ---- */

struct disasm_fn {
	unsigned int	start, len, nr_insns;
	char		name[64];
};

static u8 *blob;
static unsigned int blob_len, blob_cap;
static struct disasm_fn *fns;
static unsigned int nr_fns, fns_cap;

static void keep_for_disasm(const u8 *code, unsigned int len,
			    unsigned int nr_insns, const char *name)
{
	struct disasm_fn *f;

	if (blob_len + len > blob_cap) {
		blob_cap = (blob_cap + len) * 2;
		blob = realloc(blob, blob_cap);
	}
	if (nr_fns == fns_cap) {
		fns_cap = fns_cap * 2 + 64;
		fns = realloc(fns, fns_cap * sizeof(*fns));
	}
	if (!blob || !fns) {
		perror("realloc");
		exit(2);
	}
	f = &fns[nr_fns++];
	f->start = blob_len;
	f->len = len;
	f->nr_insns = nr_insns;
	snprintf(f->name, sizeof(f->name), "%s", name);
	memcpy(blob + blob_len, code, len);
	blob_len += len;
}

/* ---- emit, run, compare ---- */

typedef void (*unpack_fn)(void *dst, const void *src);

static const struct bkey_jit_emit_opts plain_opts;

static void fill_src(u8 *src, unsigned int n)
{
	unsigned int i;

	switch (n) {
	case 0:
		memset(src, 0, 40);
		break;
	case 1:
		memset(src, 0xff, 40);
		break;
	default:
		for (i = 0; i < 40; i += 8) {
			u64 v = rnd();

			memcpy(src + i, &v, 8);
		}
	}
}

static bool set_prot(int prot)
{
	if (mprotect(page, PAGE, prot)) {
		perror("mprotect");
		exit(2);
	}
	return true;
}

/*
 * Emit @p with @o into the page, check the sizing pass, the bound, the
 * preamble and the return, then run it on @nr_srcs sources (random ones
 * when @srcs is NULL). Returns false (after counting a failure) on error.
 */
static bool run_plan_srcs(const struct bkey_plan *p,
			  const struct bkey_jit_emit_opts *o, const char *name,
			  const u8 (*srcs)[40], unsigned int nr_srcs,
			  struct bkey_jit_emitted *res)
{
	struct bkey_jit_emitted sized = {}, e = {};
	unsigned long ip = (unsigned long)page;
	unsigned int i, pre;
	unpack_fn fn;
	int ret;

	ret = bkey_jit_arch_emit(p, o, NULL, 0, &sized);
	if (ret) {
		fail("%s: sizing pass returned %d", name, ret);
		return false;
	}

	set_prot(PROT_READ | PROT_WRITE);
	bkey_jit_arch_fill_trap(page, PAGE);
	page[THUNK_OFF] = 0xc3;
	ret = bkey_jit_arch_emit(p, o, page, ip, &e);
	if (ret) {
		fail("%s: emit returned %d", name, ret);
		return false;
	}
	if (e.len != sized.len || e.entry != sized.entry ||
	    e.nr_insns != sized.nr_insns) {
		fail("%s: sizing pass %u/%u/%u != %u/%u/%u", name, sized.len,
		     sized.entry, sized.nr_insns, e.len, e.entry, e.nr_insns);
		return false;
	}
	for (i = e.len; i < BKEY_JIT_MAX_CODE; i++)
		if (page[i] != 0xcc) {
			fail("%s: byte %u written past len %u", name, i, e.len);
			return false;
		}

	/* Preamble: mov eax, hash [+ 11 nops], then endbr64 at the entry. */
	pre = o->cfi ? (o->cfi_padding ? 16 : 5) : 0;
	if (e.entry != pre || (o->cfi && (page[0] != 0xb8 ||
					  memcmp(page + 1, &o->cfi_hash, 4)))) {
		fail("%s: bad kCFI preamble (entry %u)", name, e.entry);
		return false;
	}
	for (i = 5; i < pre; i++)
		if (page[i] != 0x90) {
			fail("%s: preamble padding byte %u", name, i);
			return false;
		}
	if (o->endbr && memcmp(page + e.entry, "\xf3\x0f\x1e\xfa", 4)) {
		fail("%s: no endbr64 at the entry", name);
		return false;
	}
	if (o->return_thunk) {
		s32 rel;

		memcpy(&rel, page + e.len - 4, 4);
		if (page[e.len - 5] != 0xe9 ||
		    ip + e.len + rel != o->return_thunk) {
			fail("%s: bad return thunk jmp", name);
			return false;
		}
	} else if (page[e.len - 2] != 0xc3 || page[e.len - 1] != 0xcc) {
		fail("%s: does not end in ret; int3", name);
		return false;
	}

	keep_for_disasm(page + e.entry, e.len - e.entry, e.nr_insns, name);
	if (pre) {
		char full[64];

		snprintf(full, sizeof(full), "%s (with preamble)", name);
		keep_for_disasm(page, e.len,
				e.nr_insns + (pre == 16 ? 12 : 1), full);
	}

	set_prot(PROT_READ | PROT_EXEC);
	fn = (unpack_fn)(void *)(page + e.entry);
	for (i = 0; i < nr_srcs; i++) {
		u64 src[5], want[5], got[5];
		unsigned int j;

		if (srcs)
			memcpy(src, srcs[i], 40);
		else
			fill_src((u8 *)src, i);
		for (j = 0; j < 5; j++)
			want[j] = got[j] = rnd();
		interp(p, (u8 *)want, (u8 *)src);
		fn(got, src);
		if (memcmp(want, got, sizeof(got))) {
			fail("%s: src %016llx %016llx %016llx %016llx %016llx: want %016llx %016llx %016llx %016llx %016llx got %016llx %016llx %016llx %016llx %016llx",
			     name,
			     (unsigned long long)src[0], (unsigned long long)src[1],
			     (unsigned long long)src[2], (unsigned long long)src[3],
			     (unsigned long long)src[4],
			     (unsigned long long)want[0], (unsigned long long)want[1],
			     (unsigned long long)want[2], (unsigned long long)want[3],
			     (unsigned long long)want[4],
			     (unsigned long long)got[0], (unsigned long long)got[1],
			     (unsigned long long)got[2], (unsigned long long)got[3],
			     (unsigned long long)got[4]);
			return false;
		}
	}
	if (res)
		*res = e;
	return true;
}

static bool run_plan(const struct bkey_plan *p,
		     const struct bkey_jit_emit_opts *o, const char *name,
		     struct bkey_jit_emitted *res)
{
	return run_plan_srcs(p, o, name, NULL, NR_SRCS, res);
}

/* One line per group: the group passes when all its plans did. */
struct group {
	const char	*name;
	unsigned int	plans, failed_before;
};

static void group_start(struct group *g, const char *name)
{
	g->name = name;
	g->plans = 0;
	g->failed_before = failed;
}

static void group_plan(struct group *g, bool ok)
{
	g->plans++;
	if (ok)
		passed++;
}

static void group_end(struct group *g)
{
	printf("%-4s %-40s %u plans\n", failed == g->failed_before ?
	       "ok" : "FAIL", g->name, g->plans);
}

/* ---- the tests ---- */

static void test_load(void)
{
	static const u8 sizes[] = { 1, 2, 4, 8 };
	struct bkey_plan p;
	struct group g;
	unsigned int s, off, reg;
	char name[64];

	group_start(&g, "LOAD sizes x offsets x regs");
	for (s = 0; s < ARRAY_SIZE(sizes); s++)
		for (off = 0; off + sizes[s] <= 40; off++)
			for (reg = 0; reg < BKEY_PLAN_NR_REGS; reg++) {
				plan_init(&p, BKEY_PLAN_UNPACK);
				/* Garbage first: the load must zero-extend. */
				op_load(&p, reg, 8, 32);
				op_load(&p, reg, sizes[s], off);
				op_store(&p, reg, 8, 0);
				op_ret(&p);
				snprintf(name, sizeof(name), "load r%u size %u off %u",
					 reg, sizes[s], off);
				group_plan(&g, run_plan(&p, &plain_opts, name, NULL));
			}
	group_end(&g);
}

/*
 * EXTRACT with and without the mask; without it the bits above the field
 * must be zero, so a masked extract at shift 0 establishes that first.
 */
static void test_extract(unsigned int size)
{
	struct bkey_plan p;
	struct group g;
	unsigned int bits = size * 8, shift, width, mask;
	char name[64];

	group_start(&g, size == 8 ? "EXTRACT size 8, shift 0..63 x width 1..64" :
				    "EXTRACT size 4, shift 0..31 x width 1..64");
	for (shift = 0; shift < bits; shift++)
		for (width = 1; width <= 64; width++)
			for (mask = 0; mask <= 1; mask++) {
				u8 reg = rnd() % BKEY_PLAN_NR_REGS;

				if (!mask && shift + width > bits)
					continue;
				plan_init(&p, BKEY_PLAN_UNPACK);
				op_load(&p, reg, 8, 16);
				op_load(&p, reg, size, rnd() % (41 - size));
				if (!mask && shift + width < bits)
					op_extract(&p, reg, size, 0, shift + width, 1);
				op_extract(&p, reg, size, shift, width, mask);
				op_store(&p, reg, 8, 8);
				op_ret(&p);
				snprintf(name, sizeof(name),
					 "extract r%u size %u shift %u width %u mask %u",
					 reg, size, shift, width, mask);
				group_plan(&g, run_plan(&p, &plain_opts, name, NULL));
			}
	group_end(&g);
}

static void test_funnel(void)
{
	struct bkey_plan p;
	struct group g;
	unsigned int shift, width, size;
	char name[64];

	group_start(&g, "FUNNEL shift 1..63 x width 1..64");
	for (size = 4; size <= 8; size += 4)
		for (shift = 1; shift < 64; shift++)
			for (width = 1; width <= 64; width++) {
				u8 lo = rnd() % BKEY_PLAN_NR_REGS;
				u8 hi = (lo + 1 + rnd() % 3) % BKEY_PLAN_NR_REGS;

				plan_init(&p, BKEY_PLAN_UNPACK);
				op_load(&p, lo, 8, rnd() % 33);
				op_load(&p, hi, 8, rnd() % 33);
				op_funnel(&p, lo, hi, size, shift, width);
				op_store(&p, lo, 8, 24);
				op_store(&p, hi, 8, 0);
				op_ret(&p);
				snprintf(name, sizeof(name),
					 "funnel r%u:r%u size %u shift %u width %u",
					 hi, lo, size, shift, width);
				group_plan(&g, run_plan(&p, &plain_opts, name, NULL));
			}
	group_end(&g);
}

static void test_add(void)
{
	static const u64 imms[] = {
		0, 1, 5, 127, 128, 129, 255, 256, 0x7fffffff, 0x80000000,
		0x80000001, 0xffffffff, 0x100000000ULL, 0x17fffffffULL,
		(u64)-1, (u64)-127, (u64)-128, (u64)-129, (u64)-256,
		(u64)S32_MIN, (u64)S32_MIN - 1, (u64)S32_MIN + 1,
		0x8000000000000000ULL, 0x7fffffffffffffffULL,
		0x123456789abcdef0ULL, 0xffffffff00000000ULL,
		0x1234567800000005ULL, 0xfedcba9800000080ULL,
	};
	struct bkey_plan p;
	struct group g;
	unsigned int i, size, reg, n;
	char name[64];

	group_start(&g, "ADD size 4/8 x immediates x regs");
	for (size = 4; size <= 8; size += 4)
		for (i = 0; i < ARRAY_SIZE(imms) + 16; i++)
			for (reg = 0; reg < BKEY_PLAN_NR_REGS; reg++) {
				u64 imm = i < ARRAY_SIZE(imms) ? imms[i] : rnd();

				plan_init(&p, BKEY_PLAN_UNPACK);
				op_load(&p, reg, 8, rnd() % 33);
				op_add(&p, reg, size, imm);
				op_store(&p, reg, size, 8);
				/* Other registers must survive r11 use. */
				for (n = 0; n < BKEY_PLAN_NR_REGS; n++)
					if (n != reg)
						op_load(&p, n, 8, 8 * n);
				op_add(&p, reg, size, imm);
				for (n = 0; n < BKEY_PLAN_NR_REGS; n++)
					op_store(&p, n, 4, 16 + 4 * n);
				op_ret(&p);
				snprintf(name, sizeof(name),
					 "add r%u size %u imm %#llx", reg, size,
					 (unsigned long long)imm);
				group_plan(&g, run_plan(&p, &plain_opts, name, NULL));
			}
	group_end(&g);
}

/* Multiplicative inverse of an odd @m modulo 2^64 (Newton's iteration). */
static u64 inverse_mod64(u64 m)
{
	u64 x = m;
	unsigned int i;

	for (i = 0; i < 5; i++)
		x *= 2 - m * x;
	return x;
}

/*
 * ADD with the width fact (r < 2^width): one or two bits above the field
 * are set with bts; a bit under it, or three bits, take the add. Plain
 * and multiplication-blinded, every register.
 */
static void test_add_bits(void)
{
	struct bkey_plan p;
	struct group g;
	unsigned int i, n;
	char name[80];

	group_start(&g, "ADD of high bits with the width fact");
	for (i = 0; i < 800; i++) {
		unsigned int reg = i % BKEY_PLAN_NR_REGS, w = 1 + rnd() % 63;
		unsigned int nbits = 1 + (i / 4) % 3;
		struct bkey_plan_op *op;
		u64 v = 0;

		for (n = 0; n < nbits; n++)
			v |= 1ULL << (w + rnd() % (64 - w));
		if (i % 16 == 5)
			v |= 1ULL << (rnd() % w);	/* one under the field */
		plan_init(&p, BKEY_PLAN_UNPACK_POS);
		for (n = 0; n < BKEY_PLAN_NR_REGS; n++)
			op_load(&p, n, 8, 4 * n);
		op_extract(&p, reg, 8, rnd() % (65 - w), w, 1);
		op_add(&p, reg, 8, v);
		op = &p.ops[p.nr_ops - 1];
		op->width = w;
		if (i & 1) {
			op->blind = BKEY_PLAN_BLIND_MUL;
			op->key = (u32)rnd() | 1;
			op->imm = v * inverse_mod64(bkey_plan_sext32(op->key));
		}
		op_store(&p, reg, 8, 4);
		op_store(&p, (reg + 1) % BKEY_PLAN_NR_REGS, 4, 0);
		op_ret(&p);
		snprintf(name, sizeof(name), "add r%u %#llx, r < 2^%u%s", reg,
			 (unsigned long long)v, w, i & 1 ? " blinded" : "");
		group_plan(&g, run_plan(&p, &plain_opts, name, NULL));
	}
	group_end(&g);
}

/*
 * Blinded ADD (MUL) and STORE_IMM (XOR, MUL): random keys and values, the
 * other registers surviving r11, every destination offset kind; the plan
 * interpreter recovers the value with bkey_plan_op_value().
 */
static void test_blinded(void)
{
	struct bkey_plan p;
	struct group g;
	unsigned int i, reg, n;
	char name[80];

	group_start(&g, "blinded ADD and STORE_IMM");
	for (i = 0; i < 400; i++) {
		struct bkey_plan_op *op;
		u32 key = (u32)rnd() | 1;

		reg = i % BKEY_PLAN_NR_REGS;
		plan_init(&p, BKEY_PLAN_UNPACK);
		for (n = 0; n < BKEY_PLAN_NR_REGS; n++)
			op_load(&p, n, 8, 8 * n);
		op_add(&p, reg, 8, rnd());
		op = &p.ops[p.nr_ops - 1];
		op->blind = BKEY_PLAN_BLIND_MUL;
		op->key = key;
		for (n = 0; n < BKEY_PLAN_NR_REGS; n++)
			op_store(&p, n, 8, 8 * n);
		op_store_imm(&p, 4, 32, rnd());
		op = &p.ops[p.nr_ops - 1];
		op->blind = BKEY_PLAN_BLIND_XOR;
		op->key = (u32)rnd();
		op_store_imm(&p, 4, 36, rnd());
		op = &p.ops[p.nr_ops - 1];
		op->blind = i & 1 ? BKEY_PLAN_BLIND_XOR : BKEY_PLAN_BLIND_NONE;
		op->key = (u32)rnd();
		op_ret(&p);
		snprintf(name, sizeof(name), "blinded add/store_imm4 #%u", i);
		group_plan(&g, run_plan(&p, &plain_opts, name, NULL));

		plan_init(&p, BKEY_PLAN_UNPACK_POS);
		op_store_imm(&p, 8, 4, (u64)(s64)(s32)rnd());
		op = &p.ops[p.nr_ops - 1];
		op->blind = BKEY_PLAN_BLIND_XOR;
		op->key = (u32)rnd();
		op_store_imm(&p, 8, 12, rnd());
		op = &p.ops[p.nr_ops - 1];
		op->blind = BKEY_PLAN_BLIND_MUL;
		op->key = key;
		op_store_imm(&p, 4, 0, rnd());
		op = &p.ops[p.nr_ops - 1];
		op->blind = BKEY_PLAN_BLIND_XOR;
		op->key = (u32)rnd();
		op_ret(&p);
		snprintf(name, sizeof(name), "blinded store_imm8 #%u", i);
		group_plan(&g, run_plan(&p, &plain_opts, name, NULL));
	}
	group_end(&g);
}

static void test_store(void)
{
	static const u64 imms[] = {
		0, 1, 0x7f, 0x80, 0x7fffffff, 0x80000000, 0xffffffff,
		0x100000000ULL, (u64)-1, (u64)S32_MIN, (u64)S32_MIN - 1,
		0xdeadbeefcafebabeULL, 0x00000000deadbeefULL,
		0x8000000000000000ULL,
	};
	struct bkey_plan p;
	struct group g;
	unsigned int size, off, reg, kind, i, lim;
	char name[64];

	group_start(&g, "STORE/STORE_IMM sizes x offsets x kinds");
	for (kind = BKEY_PLAN_UNPACK; kind <= BKEY_PLAN_UNPACK_POS; kind++) {
		lim = kind == BKEY_PLAN_UNPACK ? 40 : 20;
		for (size = 4; size <= 8; size += 4)
			for (off = 0; off + size <= lim; off++) {
				for (reg = 0; reg < BKEY_PLAN_NR_REGS; reg++) {
					plan_init(&p, kind);
					op_load(&p, reg, 8, rnd() % 33);
					op_store(&p, reg, size, off);
					op_ret(&p);
					snprintf(name, sizeof(name),
						 "store kind %u r%u size %u off %u",
						 kind, reg, size, off);
					group_plan(&g, run_plan(&p, &plain_opts,
								name, NULL));
				}
				for (i = 0; i < ARRAY_SIZE(imms); i++) {
					plan_init(&p, kind);
					op_store_imm(&p, size, off, imms[i]);
					op_ret(&p);
					snprintf(name, sizeof(name),
						 "store_imm kind %u size %u off %u imm %#llx",
						 kind, size, off,
						 (unsigned long long)imms[i]);
					group_plan(&g, run_plan(&p, &plain_opts,
								name, NULL));
				}
			}
	}
	group_end(&g);
}

/*
 * HEADER for imm 0..5 and some wrapping ones, over every value of the
 * first two header bytes (u64s 250..255 wrap; byte 1 must not change).
 */
static void test_header(void)
{
	static const u64 imms[] = { 0, 1, 2, 3, 4, 5, 255, 0x105 };
	static u8 srcs[256 * 256][40];
	struct bkey_plan p;
	struct group g;
	unsigned int i, s, live;
	char name[64];

	for (s = 0; s < 256 * 256; s++) {
		fill_src(srcs[s], 2);
		srcs[s][0] = s & 0xff;
		srcs[s][1] = s >> 8;
	}

	group_start(&g, "HEADER imm x all src[0..1] x live regs");
	for (i = 0; i < ARRAY_SIZE(imms); i++)
		for (live = 0; live <= BKEY_PLAN_NR_REGS; live++) {
			unsigned int n;

			/* @live registers hold values across the header. */
			plan_init(&p, BKEY_PLAN_UNPACK);
			for (n = 0; n < live; n++)
				op_load(&p, n, 8, 8 + 8 * n);
			op_header(&p, imms[i]);
			/* A load of another register must not end their life. */
			if (live < BKEY_PLAN_NR_REGS)
				op_load(&p, live, 4, 4);
			for (n = 0; n < live; n++)
				op_store(&p, n, 8, 8 + 8 * n);
			if (live < BKEY_PLAN_NR_REGS)
				op_store(&p, live, 4, 4);
			op_ret(&p);
			snprintf(name, sizeof(name), "header imm %#llx live %u",
				 (unsigned long long)imms[i], live);
			group_plan(&g, run_plan_srcs(&p, &plain_opts, name,
						     (const u8 (*)[40])srcs,
						     256 * 256, NULL));
		}
	group_end(&g);
}

/* A plan shaped like bkey_plan_build() output for a random format. */
static void random_plan(struct bkey_plan *p, u8 kind)
{
	static const u8 key_off[] = { 32, 24, 20, 16, 12, 4 };
	static const u8 key_size[] = { 8, 8, 4, 4, 4, 8 };
	static const u8 pos_off[] = { 12, 4, 0 };
	unsigned int f, nr = kind == BKEY_PLAN_UNPACK ? 6 : 3;

	plan_init(p, kind);
	if (kind == BKEY_PLAN_UNPACK)
		op_header(p, rnd() % 4);
	for (f = 0; f < nr; f++) {
		u8 off = kind == BKEY_PLAN_UNPACK ? key_off[f] : pos_off[f];
		u8 size = key_size[f];
		u8 reg = rnd() % BKEY_PLAN_NR_REGS;
		unsigned int width = 1 + rnd() % (size * 8);
		unsigned int shift;
		u64 imm = rnd() >> (rnd() % 64);

		switch (rnd() % 4) {
		case 0:
			op_store_imm(p, size, off, imm);
			continue;
		case 1: {
			u8 hi = (reg + 1) % BKEY_PLAN_NR_REGS;

			op_load(p, reg, 8, rnd() % 25);
			op_load(p, hi, 8, rnd() % 25);
			op_funnel(p, reg, hi, 8, 1 + rnd() % 63, width);
			break;
		}
		default:
			if (width <= 32 && rnd() % 2) {
				shift = rnd() % (33 - width);
				op_load(p, reg, 4, rnd() % 37);
				op_extract(p, reg, 4, shift, width,
					   shift + width < 32);
			} else {
				shift = rnd() % (65 - width);
				op_load(p, reg, 8, rnd() % 33);
				op_extract(p, reg, 8, shift, width,
					   shift + width < 64);
			}
		}
		op_add(p, reg, size, imm);
		op_store(p, reg, size, off);
	}
	op_ret(p);
}

static void test_random_plans(void)
{
	struct bkey_jit_emit_opts o;
	struct bkey_plan p;
	struct group g;
	unsigned int i, combo;
	char name[64];

	group_start(&g, "random plans x all option combinations");
	for (i = 0; i < 400; i++) {
		random_plan(&p, i % 4 ? BKEY_PLAN_UNPACK : BKEY_PLAN_UNPACK_POS);
		for (combo = 0; combo < 16; combo++) {
			memset(&o, 0, sizeof(o));
			o.endbr = combo & 1;
			o.cfi = combo & 2;
			o.cfi_padding = combo & 4;
			o.cfi_hash = (u32)rnd();
			if (combo & 8)
				o.return_thunk = (unsigned long)page + THUNK_OFF;
			snprintf(name, sizeof(name), "random plan %u opts %#x",
				 i, combo);
			group_plan(&g, run_plan(&p, &o, name, NULL));
		}
	}
	group_end(&g);
}

/* ---- malformed plans and limits ---- */

static void expect_einval(const struct bkey_plan *p,
			  const struct bkey_jit_emit_opts *o, unsigned long ip,
			  const char *name)
{
	static u8 buf[2 * BKEY_JIT_MAX_CODE];
	struct bkey_jit_emitted e = { .len = 1, .entry = 2, .nr_insns = 3 };
	unsigned int i;
	int ret;

	memset(buf, 0xaa, sizeof(buf));
	ret = bkey_jit_arch_emit(p, o, buf, ip, &e);
	if (ret != -EINVAL)
		fail("%s: returned %d, want -EINVAL", name, ret);
	else if (e.len != 1 || e.entry != 2 || e.nr_insns != 3)
		fail("%s: @out written on error", name);
	else
		passed++;
	for (i = BKEY_JIT_MAX_CODE; i < sizeof(buf); i++)
		if (buf[i] != 0xaa) {
			fail("%s: wrote byte %u past BKEY_JIT_MAX_CODE", name, i);
			break;
		}
}

/* A valid base plan with one op (index 1) broken by the caller. */
static struct bkey_plan *base_plan(struct bkey_plan *p, u8 code)
{
	plan_init(p, BKEY_PLAN_UNPACK);
	op_load(p, 0, 8, 0);
	switch (code) {
	case BKEY_PLAN_EXTRACT:
		op_extract(p, 0, 8, 3, 10, 1);
		break;
	case BKEY_PLAN_FUNNEL:
		op_funnel(p, 0, 1, 8, 3, 10);
		break;
	case BKEY_PLAN_ADD:
		op_add(p, 0, 8, 1);
		break;
	case BKEY_PLAN_STORE:
		op_store(p, 0, 8, 0);
		break;
	case BKEY_PLAN_STORE_IMM:
		op_store_imm(p, 8, 0, 1);
		break;
	default:
		op_load(p, 1, 8, 8);
	}
	op_ret(p);
	return p;
}

static void test_invalid(void)
{
	struct bkey_jit_emit_opts o = {};
	struct bkey_jit_emitted e;
	struct bkey_plan p;
	unsigned int i, before = failed;
	u8 buf[BKEY_JIT_MAX_CODE];
	int ret;

#define BAD(code, field, val, what) do {				\
		base_plan(&p, code)->ops[1].field = (val);		\
		expect_einval(&p, NULL, 0, what);			\
	} while (0)

	BAD(BKEY_PLAN_LOAD, reg, 4, "load reg 4");
	BAD(BKEY_PLAN_LOAD, size, 3, "load size 3");
	BAD(BKEY_PLAN_LOAD, size, 0, "load size 0");
	BAD(BKEY_PLAN_LOAD, size, 16, "load size 16");
	BAD(BKEY_PLAN_LOAD, off, 33, "load off 33 size 8");
	BAD(BKEY_PLAN_LOAD, off, 200, "load off 200");
	BAD(BKEY_PLAN_EXTRACT, reg, 9, "extract reg 9");
	BAD(BKEY_PLAN_EXTRACT, shift, 64, "extract shift 64");
	BAD(BKEY_PLAN_EXTRACT, width, 0, "extract width 0");
	BAD(BKEY_PLAN_EXTRACT, width, 65, "extract width 65");
	BAD(BKEY_PLAN_EXTRACT, size, 2, "extract size 2");
	BAD(BKEY_PLAN_FUNNEL, reg2, 4, "funnel reg2 4");
	BAD(BKEY_PLAN_FUNNEL, reg2, 0, "funnel reg2 == reg");
	BAD(BKEY_PLAN_FUNNEL, shift, 0, "funnel shift 0");
	BAD(BKEY_PLAN_FUNNEL, shift, 64, "funnel shift 64");
	BAD(BKEY_PLAN_FUNNEL, width, 0, "funnel width 0");
	BAD(BKEY_PLAN_FUNNEL, width, 65, "funnel width 65");
	BAD(BKEY_PLAN_ADD, size, 2, "add size 2");
	BAD(BKEY_PLAN_ADD, reg, 255, "add reg 255");
	BAD(BKEY_PLAN_STORE, size, 1, "store size 1");
	BAD(BKEY_PLAN_STORE, off, 33, "store off 33 size 8");
	BAD(BKEY_PLAN_STORE_IMM, size, 2, "store_imm size 2");
	BAD(BKEY_PLAN_STORE_IMM, off, 37, "store_imm off 37 size 8");
	BAD(BKEY_PLAN_STORE_IMM, blind, 3, "store_imm blind 3");
	BAD(BKEY_PLAN_ADD, blind, BKEY_PLAN_BLIND_XOR, "add blind xor");
	base_plan(&p, BKEY_PLAN_ADD)->ops[1].size = 4;
	p.ops[1].blind = BKEY_PLAN_BLIND_MUL;
	expect_einval(&p, NULL, 0, "add size 4 blind mul");
	base_plan(&p, BKEY_PLAN_STORE_IMM)->ops[1].imm = 1ULL << 40;
	p.ops[1].blind = BKEY_PLAN_BLIND_XOR;
	expect_einval(&p, NULL, 0, "store_imm xor imm beyond s32");
	BAD(BKEY_PLAN_LOAD, code, 99, "unknown op 99");
	BAD(BKEY_PLAN_LOAD, code, BKEY_PLAN_RET, "ret before the end");

	base_plan(&p, BKEY_PLAN_EXTRACT)->ops[1].size = 4;
	p.ops[1].shift = 32;
	expect_einval(&p, NULL, 0, "extract size 4 shift 32");

	base_plan(&p, BKEY_PLAN_STORE);
	p.kind = BKEY_PLAN_UNPACK_POS;
	p.ops[1].off = 13;
	expect_einval(&p, NULL, 0, "pos store off 13 size 8");

	base_plan(&p, BKEY_PLAN_STORE);
	p.kind = 7;
	expect_einval(&p, NULL, 0, "unknown kind");

	plan_init(&p, BKEY_PLAN_UNPACK_POS);
	op_header(&p, 0);
	op_ret(&p);
	expect_einval(&p, NULL, 0, "header in a bpos plan");

	base_plan(&p, BKEY_PLAN_STORE)->nr_ops = 2;
	expect_einval(&p, NULL, 0, "no ret");
	p.nr_ops = 0;
	expect_einval(&p, NULL, 0, "no ops");
	p.nr_ops = BKEY_PLAN_MAX_OPS + 1;
	expect_einval(&p, NULL, 0, "too many ops");

	/* Longest ops: 14 bytes each, far more than BKEY_JIT_MAX_CODE. */
	plan_init(&p, BKEY_PLAN_UNPACK);
	for (i = 0; i < BKEY_PLAN_MAX_OPS - 1; i++)
		op_store_imm(&p, 8, 32, 0xdeadbeefcafebabeULL);
	op_ret(&p);
	expect_einval(&p, NULL, 0, "code longer than BKEY_JIT_MAX_CODE");

	/* Return thunk out of rel32 range: only the real pass can tell. */
	plan_init(&p, BKEY_PLAN_UNPACK);
	op_ret(&p);
	o.return_thunk = 0x100000000ULL + 5;
	expect_einval(&p, &o, 0, "return thunk 4 GiB away");
	o.return_thunk = 1;
	expect_einval(&p, &o, 0x100000000ULL, "return thunk 4 GiB back");
	ret = bkey_jit_arch_emit(&p, &o, NULL, 0x100000000ULL, &e);
	if (ret || e.len != 5 || e.nr_insns != 1)
		fail("sizing pass with an unreachable thunk: %d len %u", ret,
		     e.len);
	else
		passed++;

	/* The exact rel32 limits. */
	o.return_thunk = 5 + (unsigned long)S32_MAX;
	ret = bkey_jit_arch_emit(&p, &o, buf, 0, &e);
	if (ret || buf[0] != 0xe9 || memcmp(buf + 1, "\xff\xff\xff\x7f", 4))
		fail("thunk at rel32 S32_MAX: %d", ret);
	else
		passed++;
	o.return_thunk++;
	expect_einval(&p, &o, 0, "thunk at rel32 S32_MAX + 1");
	o.return_thunk = 0x100000000ULL + 5 + S32_MIN;
	ret = bkey_jit_arch_emit(&p, &o, buf, 0x100000000ULL, &e);
	if (ret || buf[0] != 0xe9 || memcmp(buf + 1, "\x00\x00\x00\x80", 4))
		fail("thunk at rel32 S32_MIN: %d", ret);
	else
		passed++;
	o.return_thunk--;
	expect_einval(&p, &o, 0x100000000ULL, "thunk at rel32 S32_MIN - 1");

	printf("%-4s %-40s\n", failed == before ? "ok" : "FAIL",
	       "malformed plans and limits -> -EINVAL");
#undef BAD
}

/* ---- exact encodings and instruction budgets ---- */

static void expect_code(const struct bkey_plan *p,
			const struct bkey_jit_emit_opts *o, const char *want,
			unsigned int want_len, const char *name)
{
	struct bkey_jit_emitted e;
	u8 buf[BKEY_JIT_MAX_CODE];
	int ret = bkey_jit_arch_emit(p, o, buf, 0, &e);

	if (ret || e.len != want_len || memcmp(buf, want, want_len)) {
		unsigned int i;

		fail("%s: encoding differs (ret %d len %u)", name, ret, e.len);
		if (!ret) {
			for (i = 0; i < e.len; i++)
				printf("%02x ", buf[i]);
			printf("\n");
		}
		return;
	}
	passed++;
}

#define EXPECT_CODE(p, o, bytes, name) \
	expect_code(p, o, bytes, sizeof(bytes) - 1, name)

static void test_encodings(void)
{
	struct bkey_jit_emit_opts o = { .endbr = true, .cfi = true,
					.cfi_padding = true,
					.cfi_hash = 0x12345678 };
	struct bkey_plan p;
	unsigned int before = failed;

	plan_init(&p, BKEY_PLAN_UNPACK);
	op_header(&p, 3);
	op_ret(&p);
	EXPECT_CODE(&p, &o,
		    "\xb8\x78\x56\x34\x12"	/* mov eax, 0x12345678 */
		    "\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90"	/* 11 x nop */
		    "\xf3\x0f\x1e\xfa"
		    "\x8b\x06"			/* mov eax, [rsi] */
		    "\x25\xff\x80\xff\x00"	/* and eax, 0xff80ff */
		    "\x04\x03"			/* add al, 3 */
		    "\x0f\xba\xe8\x08"	/* bts eax, 8 */
		    "\x89\x07"			/* mov [rdi], eax */
		    "\xc3\xcc", "header, padded kCFI, endbr");

	plan_init(&p, BKEY_PLAN_UNPACK_POS);
	op_load(&p, 0, 8, 8);		/* mov rax, [rsi+8] */
	op_extract(&p, 0, 8, 4, 20, 1);	/* shr eax, 4; and eax, 0xfffff */
	op_add(&p, 0, 8, 128);		/* sub rax, -128 */
	op_store(&p, 0, 8, 4);		/* mov [rdi+4], rax */
	op_load(&p, 3, 4, 0);		/* mov r8d, [rsi] */
	op_extract(&p, 3, 4, 8, 8, 1);	/* shr r8d, 8; movzx r8d, r8b */
	op_store(&p, 3, 4, 0);		/* mov [rdi], r8d */
	op_store_imm(&p, 8, 12, 0x80000000);	/* mov r11d, imm; mov [], r11 */
	op_ret(&p);
	EXPECT_CODE(&p, NULL,
		    "\x48\x8b\x46\x08"
		    "\xc1\xe8\x04"
		    "\x25\xff\xff\x0f\x00"
		    "\x48\x83\xe8\x80"
		    "\x48\x89\x47\x04"
		    "\x44\x8b\x06"
		    "\x41\xc1\xe8\x08"
		    "\x45\x0f\xb6\xc0"
		    "\x44\x89\x07"
		    "\x41\xbb\x00\x00\x00\x80"
		    "\x4c\x89\x5f\x0c"
		    "\xc3\xcc", "bpos plan");

	plan_init(&p, BKEY_PLAN_UNPACK);
	op_load(&p, 1, 8, 0);		/* mov rcx, [rsi] */
	op_load(&p, 2, 8, 8);		/* mov rdx, [rsi+8] */
	op_funnel(&p, 1, 2, 8, 40, 40);	/* shrd rcx, rdx, 40; shl; shr */
	op_extract(&p, 2, 8, 1, 7, 1);	/* shr edx, 1; and edx, 0x7f */
	op_extract(&p, 2, 4, 0, 16, 1);	/* movzx edx, dx */
	op_extract(&p, 2, 8, 0, 32, 1);	/* mov edx, edx */
	op_add(&p, 2, 4, 0x80);		/* sub edx, -128 */
	op_add(&p, 0, 4, 0x12345678);	/* add eax, imm32 */
	op_add(&p, 3, 8, (u64)-0x80000000LL);	/* add r8, simm32 */
	op_add(&p, 1, 8, 0x8000000000000000ULL); /* movabs r11; add rcx, r11 */
	op_ret(&p);
	EXPECT_CODE(&p, NULL,
		    "\x48\x8b\x0e"
		    "\x48\x8b\x56\x08"
		    "\x48\x0f\xac\xd1\x28"
		    "\x48\xc1\xe1\x18"
		    "\x48\xc1\xe9\x18"
		    "\xd1\xea"
		    "\x83\xe2\x7f"
		    "\x0f\xb7\xd2"
		    "\x89\xd2"
		    "\x83\xea\x80"
		    "\x05\x78\x56\x34\x12"
		    "\x49\x81\xc0\x00\x00\x00\x80"
		    "\x49\xbb\x00\x00\x00\x00\x00\x00\x00\x80"
		    "\x4c\x01\xd9"
		    "\xc3\xcc", "funnel, imm8 and, movabs add");

	/* A 63-bit field across words (a dirent hash): btr, not shl + shr. */
	plan_init(&p, BKEY_PLAN_UNPACK_POS);
	op_load(&p, 0, 8, 8);		/* mov rax, [rsi+8] */
	op_load(&p, 1, 8, 16);		/* mov rcx, [rsi+16] */
	op_funnel(&p, 0, 1, 8, 52, 63);	/* shrd rax, rcx, 52; btr rax, 63 */
	op_store(&p, 0, 8, 4);		/* mov [rdi+4], rax */
	op_ret(&p);
	EXPECT_CODE(&p, NULL,
		    "\x48\x8b\x46\x08"
		    "\x48\x8b\x4e\x10"
		    "\x48\x0f\xac\xc8\x34"
		    "\x48\x0f\xba\xf0\x3f"
		    "\x48\x89\x47\x04"
		    "\xc3\xcc", "funnel of a 63-bit field");

	/* Zero constants: "and m, 0", the imm8 form. */
	plan_init(&p, BKEY_PLAN_UNPACK);
	op_store_imm(&p, 8, 8, 0);	/* and qword [rdi+8], 0 */
	op_store_imm(&p, 4, 16, 0);	/* and dword [rdi+16], 0 */
	op_store_imm(&p, 4, 20, 7);	/* mov dword [rdi+20], 7 */
	op_ret(&p);
	EXPECT_CODE(&p, NULL,
		    "\x48\x83\x67\x08\x00"
		    "\x83\x67\x10\x00"
		    "\xc7\x47\x14\x07\x00\x00\x00"
		    "\xc3\xcc", "zero constants");

	/* Bits above the field: bts, no constant. */
	plan_init(&p, BKEY_PLAN_UNPACK_POS);
	op_load(&p, 0, 4, 12);		/* mov eax, [rsi+12] */
	op_add(&p, 0, 8, 1ULL << 36);	/* bts rax, 36 */
	p.ops[p.nr_ops - 1].width = 32;
	op_add(&p, 0, 8, (1ULL << 63) | (1ULL << 40)); /* bts rax, 40; 63 */
	p.ops[p.nr_ops - 1].width = 37;
	op_store(&p, 0, 8, 4);		/* mov [rdi+4], rax */
	op_ret(&p);
	EXPECT_CODE(&p, NULL,
		    "\x8b\x46\x0c"
		    "\x48\x0f\xba\xe8\x24"
		    "\x48\x0f\xba\xe8\x28"
		    "\x48\x0f\xba\xe8\x3f"
		    "\x48\x89\x47\x04"
		    "\xc3\xcc", "add of bits above the field");

	printf("%-4s %-40s\n", failed == before ? "ok" : "FAIL",
	       "exact encodings");
}

/* Typical plans against the instruction budgets (endbr, ret, int3 in). */
static void test_budgets(void)
{
	struct bkey_jit_emit_opts o = { .endbr = true };
	struct bkey_jit_emitted e;
	struct bkey_plan p;
	unsigned int before = failed;

	/* Simple: offset 40 bits, size 8 bits, the rest constant. */
	plan_init(&p, BKEY_PLAN_UNPACK);
	op_header(&p, 2);
	op_load(&p, 0, 8, 3);
	op_extract(&p, 0, 8, 8, 40, 1);
	op_add(&p, 0, 8, 4096);
	op_store(&p, 0, 8, 24);
	op_load(&p, 1, 1, 3);
	op_store(&p, 1, 4, 16);
	op_store_imm(&p, 8, 32, 4096);
	op_store_imm(&p, 4, 20, U32_MAX);
	op_store_imm(&p, 8, 4, 0);
	op_store_imm(&p, 4, 12, 0);
	op_ret(&p);
	if (run_plan(&p, &o, "budget: simple", &e) && e.nr_insns > 20)
		fail("simple plan: %u instructions > 20", e.nr_insns);
	printf("     simple format: %u insns, %u bytes\n", e.nr_insns,
	       e.len);

	/* Straddling: inode and offset 60 bits each across words. */
	plan_init(&p, BKEY_PLAN_UNPACK);
	op_header(&p, 2);
	op_load(&p, 0, 8, 0);
	op_load(&p, 1, 8, 8);
	op_funnel(&p, 0, 1, 8, 24, 60);
	op_add(&p, 0, 8, 1);
	op_store(&p, 0, 8, 32);
	op_load(&p, 0, 8, 16);
	op_funnel(&p, 1, 0, 8, 20, 60);
	op_add(&p, 1, 8, 1);
	op_store(&p, 1, 8, 24);
	op_extract(&p, 0, 8, 16, 20, 1);
	op_store(&p, 0, 4, 16);
	op_store_imm(&p, 4, 20, U32_MAX);
	op_store_imm(&p, 8, 4, 0);
	op_store_imm(&p, 4, 12, 0);
	op_ret(&p);
	if (run_plan(&p, &o, "budget: straddling", &e) && e.nr_insns > 30)
		fail("straddling plan: %u instructions > 30", e.nr_insns);
	printf("     straddling format: %u insns, %u bytes\n", e.nr_insns,
	       e.len);

	/* Position only: inode constant, offset 40 bits, snapshot const. */
	plan_init(&p, BKEY_PLAN_UNPACK_POS);
	op_load(&p, 0, 8, 3);
	op_extract(&p, 0, 8, 8, 40, 1);
	op_add(&p, 0, 8, 4096);
	op_store(&p, 0, 8, 4);
	op_store_imm(&p, 8, 12, 4096);
	op_store_imm(&p, 4, 0, U32_MAX);
	op_ret(&p);
	if (run_plan(&p, &o, "budget: pos", &e) && e.nr_insns > 12)
		fail("pos plan: %u instructions > 12", e.nr_insns);
	printf("     position only: %u insns, %u bytes\n", e.nr_insns, e.len);

	printf("%-4s %-40s\n", failed == before ? "ok" : "FAIL",
	       "instruction budgets");
}

static void test_misc(void)
{
	u8 buf[100];
	unsigned int i, before = failed;

	memset(buf, 0, sizeof(buf));
	bkey_jit_arch_fill_trap(buf, sizeof(buf) - 1);
	for (i = 0; i < sizeof(buf) - 1; i++)
		if (buf[i] != 0xcc)
			break;
	if (i != sizeof(buf) - 1 || buf[sizeof(buf) - 1])
		fail("fill_trap");
	else
		passed++;
	if (strcmp(bkey_jit_arch_name, "x86-64"))
		fail("arch name %s", bkey_jit_arch_name);
	else
		passed++;
	printf("%-4s %-40s\n", failed == before ? "ok" : "FAIL",
	       "fill_trap, arch name");
}

/* ---- objdump: every kept function decodes into nr_insns insns ---- */

static unsigned int count_hex_bytes(const char *s)
{
	unsigned int n = 0;
	bool in_byte = false;

	for (; *s; s++) {
		if (*s == ' ') {
			in_byte = false;
		} else if (!in_byte) {
			in_byte = true;
			n++;
		}
	}
	return n;
}

static void test_objdump(void)
{
	char path[64], cmd[256], line[512];
	unsigned int *counts, f = 0, before = failed;
	bool *bad;
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/emit_x86_selftest.%d.bin", getpid());
	fp = fopen(path, "wb");
	if (!fp || fwrite(blob, 1, blob_len, fp) != blob_len) {
		fail("cannot write %s", path);
		return;
	}
	fclose(fp);
	snprintf(cmd, sizeof(cmd),
		 "objdump -D -z -b binary -mi386:x86-64 --insn-width=16 %s",
		 path);
	fp = popen(cmd, "r");
	if (!fp) {
		fail("cannot run objdump");
		return;
	}
	counts = calloc(nr_fns, sizeof(*counts));
	bad = calloc(nr_fns, sizeof(*bad));
	while (fgets(line, sizeof(line), fp)) {
		char *p = line, *end, *hex, *mnem;
		unsigned long addr;
		unsigned int n;

		while (*p == ' ')
			p++;
		addr = strtoul(p, &end, 16);
		if (end == p || end[0] != ':' || end[1] != '\t')
			continue;
		hex = end + 2;
		mnem = strchr(hex, '\t');
		if (!mnem)
			continue;
		*mnem++ = '\0';
		n = count_hex_bytes(hex);
		while (f < nr_fns && addr >= fns[f].start + fns[f].len)
			f++;
		if (f == nr_fns || addr < fns[f].start ||
		    addr + n > fns[f].start + fns[f].len) {
			/* An instruction across a function boundary. */
			if (f < nr_fns)
				bad[f] = true;
			continue;
		}
		counts[f]++;
		if (strstr(mnem, "(bad)"))
			bad[f] = true;
	}
	if (pclose(fp))
		fail("objdump failed");
	unlink(path);

	for (f = 0; f < nr_fns; f++) {
		if (bad[f] || counts[f] != fns[f].nr_insns)
			fail("objdump: %s: %u insns%s, nr_insns %u", fns[f].name,
			     counts[f], bad[f] ? ", undecodable" : "",
			     fns[f].nr_insns);
		else
			passed++;
	}
	free(counts);
	free(bad);
	printf("%-4s %-40s %u functions\n", failed == before ? "ok" : "FAIL",
	       "objdump decodes nr_insns instructions", nr_fns);
}

int main(void)
{
	page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		return 2;
	}

	test_encodings();
	test_load();
	test_extract(8);
	test_extract(4);
	test_funnel();
	test_add();
	test_add_bits();
	test_blinded();
	test_store();
	test_header();
	test_random_plans();
	test_budgets();
	test_invalid();
	test_misc();
	test_objdump();

	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
