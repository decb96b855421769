// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace self-test of the arm64 bkey-jit backend (aarch64 only).
 *
 * Build and run (from the top of the tree), as tests/emit_arm64_selftest.sh
 * does, this file together with arch/arm64/bkey_jit_emit.c:
 *
 *   aarch64-linux-gnu-gcc -static -O2 -g -Wall -Wextra -I. \
 *	-o /tmp/a64t <this file> arch/arm64/bkey_jit_emit.c
 *   qemu-aarch64-static /tmp/a64t [DUMP]
 *
 * With DUMP, the code of every emitted function (entry to end) is appended
 * to DUMP and "offset nr_insns name" lines to DUMP.idx, for
 * tests/emit_arm64_selftest.sh to disassemble and count.
 *
 * Hand-built plans exercise every plan op and encoding branch; each one is
 * emitted into a fresh mapping (written RW, then mprotect()ed R+X, never
 * RWX), run on many sources and compared with a C interpreter of the plan
 * semantics of bkey_jit_plan.h.
 */
#include "bkey_jit_plan.h"

#include <stdarg.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef __aarch64__
#error "emit_arm64_selftest runs the generated code: build it for aarch64"
#endif

#define PAGE		4096
#define DST_BYTES	48	/* struct bkey plus a guard */
#define BRK_FAULT	0xd4202000u
#define BTI_C		0xd503245fu
#define RET_X30		0xd65f03c0u

static unsigned int passed, failed;
static FILE *dump_code, *dump_idx;
static unsigned long dump_off;
static bool verbose;

static u64 rng = 0x9e3779b97f4a7c15ULL;

static u64 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static __printf(1, 2) void fail(const char *fmt, ...)
{
	va_list ap;

	failed++;
	if (failed > 50)
		return;
	fprintf(stderr, "FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static void check(bool ok, const char *what)
{
	if (ok)
		passed++;
	else
		fail("%s", what);
}

/* ---- plan building ---- */

static void plan_init(struct bkey_plan *p, enum bkey_plan_kind kind)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
}

static struct bkey_plan_op *plan_op(struct bkey_plan *p, u8 code)
{
	struct bkey_plan_op *op = &p->ops[p->nr_ops++];

	memset(op, 0, sizeof(*op));
	op->code = code;
	return op;
}

static void p_header(struct bkey_plan *p, u64 imm)
{
	plan_op(p, BKEY_PLAN_HEADER)->imm = imm;
}

static void p_load(struct bkey_plan *p, int reg, int size, int off)
{
	struct bkey_plan_op *op = plan_op(p, BKEY_PLAN_LOAD);

	op->reg = reg;
	op->size = size;
	op->off = off;
}

static void p_extract(struct bkey_plan *p, int reg, int size, int shift,
		      int width, bool mask)
{
	struct bkey_plan_op *op = plan_op(p, BKEY_PLAN_EXTRACT);

	op->reg = reg;
	op->size = size;
	op->shift = shift;
	op->width = width;
	op->mask = mask;
}

static void p_funnel(struct bkey_plan *p, int reg, int reg2, int shift,
		     int width)
{
	struct bkey_plan_op *op = plan_op(p, BKEY_PLAN_FUNNEL);

	op->reg = reg;
	op->reg2 = reg2;
	op->size = 8;
	op->shift = shift;
	op->width = width;
}

static void p_add(struct bkey_plan *p, int reg, int size, u64 imm)
{
	struct bkey_plan_op *op = plan_op(p, BKEY_PLAN_ADD);

	op->reg = reg;
	op->size = size;
	op->imm = imm;
}

static void p_store(struct bkey_plan *p, int reg, int size, int off)
{
	struct bkey_plan_op *op = plan_op(p, BKEY_PLAN_STORE);

	op->reg = reg;
	op->size = size;
	op->off = off;
}

static void p_store_imm(struct bkey_plan *p, int size, int off, u64 imm)
{
	struct bkey_plan_op *op = plan_op(p, BKEY_PLAN_STORE_IMM);

	op->size = size;
	op->off = off;
	op->imm = imm;
}

static void p_ret(struct bkey_plan *p)
{
	plan_op(p, BKEY_PLAN_RET);
}

/* ---- reference interpreter ---- */

static u64 mask_w(unsigned int width)
{
	return width >= 64 ? U64_MAX : (1ULL << width) - 1;
}

/* Return 0, or -1 if the plan breaks a precondition of the contract. */
static int interp(const struct bkey_plan *p, u8 *dst, const u8 *src)
{
	u64 r[BKEY_PLAN_NR_REGS] = { 0 };
	unsigned int i;

	for (i = 0; i < p->nr_ops; i++) {
		const struct bkey_plan_op *op = &p->ops[i];
		u64 *rr = &r[op->reg];
		u64 v;

		switch (op->code) {
		case BKEY_PLAN_HEADER:
			dst[0] = src[0] + op->imm;
			dst[1] = (src[1] & 0x80) | 1;
			dst[2] = src[2];
			dst[3] = 0;
			break;
		case BKEY_PLAN_LOAD:
			v = 0;
			memcpy(&v, src + op->off, op->size);
			*rr = v;
			break;
		case BKEY_PLAN_EXTRACT:
			if (!op->mask && op->shift + op->width < 64 &&
			    *rr >> (op->shift + op->width))
				return -1;
			*rr = (*rr >> op->shift) & mask_w(op->width);
			break;
		case BKEY_PLAN_FUNNEL:
			v = (*rr >> op->shift) |
			    (r[op->reg2] << (64 - op->shift));
			*rr = v & mask_w(op->width);
			break;
		case BKEY_PLAN_ADD:
			*rr += bkey_plan_op_value(op);
			if (op->size == 4)
				*rr = (u32)*rr;
			break;
		case BKEY_PLAN_STORE:
			memcpy(dst + op->off, rr, op->size);
			break;
		case BKEY_PLAN_STORE_IMM:
			v = bkey_plan_op_value(op);
			memcpy(dst + op->off, &v, op->size);
			break;
		case BKEY_PLAN_RET:
			return 0;
		}
	}
	return 0;
}

/* ---- running emitted code ---- */

typedef void (*jit_fn)(void *dst, const void *src);
typedef void (*src_fill_fn)(u8 *src, unsigned int iter, void *arg);

static void fill_random(u8 *src, unsigned int iter, void *arg)
{
	u64 v;
	int i;

	(void)iter;
	(void)arg;
	for (i = 0; i < 40; i += 8) {
		v = rnd();
		/* Sometimes all-ones or all-zero words, to hit the edges. */
		if ((rnd() & 7) == 0)
			v = (rnd() & 1) ? U64_MAX : 0;
		memcpy(src + i, &v, 8);
	}
}

static const struct bkey_jit_emit_opts opts_none;

static bool trap_filled(const u8 *p, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++) {
		u32 w = BRK_FAULT;

		if (p[i] != ((const u8 *)&w)[i % 4])
			return false;
	}
	return true;
}

/*
 * Emit @p with @o, run it on @nr sources from @fill and compare with the
 * interpreter. @expect_body: instructions between the BTI and the RET, or
 * -1 for no check. Return the emitted instruction count, or -1.
 */
static int run_plan_fill(const char *name, const struct bkey_plan *p,
			 const struct bkey_jit_emit_opts *o, unsigned int nr,
			 src_fill_fn fill, void *arg, int expect_body)
{
	struct bkey_jit_emitted sz = { 0 }, out = { 0 };
	u8 srcbuf[40 + 16] __aligned(8), dst_j[DST_BYTES] __aligned(8);
	u8 dst_i[DST_BYTES] __aligned(8);
	unsigned int dst_size = p->kind == BKEY_PLAN_UNPACK ? 40 : 20, i;
	int ret, body, before = failed;
	u8 *page;
	u32 w;

	if (!o)
		o = &opts_none;
	ret = bkey_jit_arch_emit(p, o, NULL, 0, &sz);
	if (ret) {
		fail("%s: sizing pass returned %d", name, ret);
		return -1;
	}
	page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	bkey_jit_arch_fill_trap(page, PAGE);
	ret = bkey_jit_arch_emit(p, o, page, (unsigned long)page, &out);
	if (ret) {
		fail("%s: emit returned %d", name, ret);
		goto out;
	}
	if (sz.len != out.len || sz.entry != out.entry ||
	    sz.nr_insns != out.nr_insns) {
		fail("%s: sizing pass %u/%u/%u != emit %u/%u/%u", name,
		     sz.len, sz.entry, sz.nr_insns, out.len, out.entry,
		     out.nr_insns);
		goto out;
	}
	if (out.len > BKEY_JIT_MAX_CODE || out.len % 4 ||
	    out.entry + 4 * out.nr_insns != out.len ||
	    out.entry != (o->cfi ? 4u : 0u)) {
		fail("%s: bad len %u entry %u nr_insns %u", name, out.len,
		     out.entry, out.nr_insns);
		goto out;
	}
	if (!trap_filled(page, out.len, PAGE)) {
		fail("%s: wrote past len", name);
		goto out;
	}
	memcpy(&w, page, 4);
	if (o->cfi && w != o->cfi_hash)
		fail("%s: cfi hash %08x != %08x", name, w, o->cfi_hash);
	memcpy(&w, page + out.entry, 4);
	if (o->bti && w != BTI_C)
		fail("%s: entry %08x is not BTI C", name, w);
	memcpy(&w, page + out.len - 4, 4);
	if (w != RET_X30)
		fail("%s: last insn %08x is not RET", name, w);
	body = out.nr_insns - 1 - (o->bti ? 1 : 0);
	if (expect_body >= 0 && body != expect_body)
		fail("%s: %d body insns, expected %d", name, body,
		     expect_body);
	if (verbose) {
		printf("%s:", name);
		for (i = out.entry; i < out.len; i += 4) {
			memcpy(&w, page + i, 4);
			printf(" %08x", w);
		}
		printf("\n");
	}

	if (dump_code) {
		fwrite(page + out.entry, 1, out.len - out.entry, dump_code);
		fprintf(dump_idx, "%lx %u %s\n", dump_off, out.nr_insns, name);
		dump_off += out.len - out.entry;
	}

	if (mprotect(page, PAGE, PROT_READ | PROT_EXEC)) {
		perror("mprotect");
		exit(2);
	}
	__builtin___clear_cache((char *)page, (char *)page + out.len);

	for (i = 0; i < nr; i++) {
		jit_fn fn = (jit_fn)(uintptr_t)(page + out.entry);
		u8 *src = srcbuf + 8;

		memset(srcbuf, 0xa5, sizeof(srcbuf));
		fill(src, i, arg);
		for (w = 0; w < DST_BYTES; w++)
			dst_j[w] = dst_i[w] = (u8)(w * 37 + i);
		if (interp(p, dst_i, src)) {
			fail("%s: test plan breaks the contract", name);
			break;
		}
		fn(dst_j, src);
		if (memcmp(dst_i, dst_j, DST_BYTES)) {
			fail("%s: input %u: output differs", name, i);
			for (w = 0; w < DST_BYTES && verbose; w++)
				fprintf(stderr, "  %2u: src %02x jit %02x ref %02x\n",
					w, w < 40 ? src[w] : 0, dst_j[w],
					dst_i[w]);
			break;
		}
		(void)dst_size;
	}
out:
	munmap(page, PAGE);
	if ((int)failed != before)
		return -1;
	passed++;
	return out.nr_insns;
}

static int run_plan(const char *name, const struct bkey_plan *p,
		    const struct bkey_jit_emit_opts *o, unsigned int nr,
		    int expect_body)
{
	return run_plan_fill(name, p, o, nr, fill_random, NULL, expect_body);
}

/* ---- tests ---- */

static void test_loads(void)
{
	static const int sizes[] = { 1, 2, 4, 8 };
	struct bkey_plan p;
	char name[64];
	unsigned int s, off;

	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (off = 0; off + sizes[s] <= 40; off++) {
			int reg = off % 4;

			plan_init(&p, BKEY_PLAN_UNPACK);
			p_load(&p, reg, sizes[s], off);
			p_store(&p, reg, 8, 8 * (off % 5));
			p_ret(&p);
			snprintf(name, sizeof(name), "load%d@%u", sizes[s], off);
			run_plan(name, &p, NULL, 8, 2);

			/* The same into a struct bpos. */
			plan_init(&p, BKEY_PLAN_UNPACK_POS);
			p_load(&p, reg, sizes[s], off);
			p_store(&p, reg, 4, 4 * (off % 5));
			p_ret(&p);
			snprintf(name, sizeof(name), "pos-load%d@%u", sizes[s],
				 off);
			run_plan(name, &p, NULL, 8, 2);
		}
	}
}

/* Expected instruction counts, mirroring the emitter's choices. */
static int lsz_for(int bits)
{
	return bits <= 8 ? 1 : bits <= 16 ? 2 : bits <= 32 ? 4 :
	       bits <= 64 ? 8 : 0;
}

static int cost_extract(int shift, int width, bool mask)
{
	return (!mask || shift + width >= 64) ? !!shift : 1;
}

/* LOAD ldsize; EXTRACT: a byte-aligned field is one narrower load. */
static int cost_load_extract(int ldsize, int shift, int width, bool mask)
{
	int byte = shift / 8, bits, n;

	if (shift % 8 == 0 && byte < ldsize) {
		bits = min(width, ldsize * 8 - shift);
		n = lsz_for(bits);
		if (byte + n <= ldsize && (!mask || n * 8 == bits))
			return 1;
	}
	return 1 + cost_extract(shift, width, mask);
}

/* LOAD lo; LOAD hi; FUNNEL: one load (+ UBFX) for contiguous words. */
static int cost_funnel(int lo_off, int hi_off, int hi_size, int shift,
		       int width, bool hi_live)
{
	int end = 64 + hi_size * 8, bits, n;

	if (hi_off == lo_off + 8 && !hi_live) {
		bits = min(width, end - shift);
		n = lsz_for(shift % 8 + bits);
		if (n && (shift / 8) * 8 + n * 8 <= end)
			return 1 + ((shift % 8 || n * 8 != bits) ?
				    cost_extract(shift % 8, bits, true) : 0);
	}
	return 2 + (shift + width <= 64 ? 1 : width < 64 ? 2 : 1);
}

static void test_extract(void)
{
	struct bkey_plan p;
	char name[64];
	int shift, width;

	for (shift = 0; shift < 64; shift++) {
		for (width = 1; width <= 64; width++) {
			int end = shift + width, size = end <= 32 ? 4 : 8;
			int reg = (shift + width) % 4, e;

			/* Masked */
			plan_init(&p, BKEY_PLAN_UNPACK);
			p_load(&p, reg, 8, rnd() % 33);
			p_extract(&p, reg, size, shift, width, true);
			p_store(&p, reg, 8, 32);
			p_ret(&p);
			snprintf(name, sizeof(name), "extract-mask-%d-%d", shift,
				 width);
			run_plan(name, &p, NULL, 6,
				 1 + cost_load_extract(8, shift, width, true));

			/* Masked, 32-bit load and store */
			if (end <= 32) {
				plan_init(&p, BKEY_PLAN_UNPACK);
				p_load(&p, reg, 4, rnd() % 37);
				p_extract(&p, reg, 4, shift, width, true);
				p_store(&p, reg, 4, 16);
				p_ret(&p);
				snprintf(name, sizeof(name),
					 "extract32-mask-%d-%d", shift, width);
				run_plan(name, &p, NULL, 6, 1 +
					 cost_load_extract(4, shift, width,
							   true));
			}

			/* Not masked: clear the bits above first. */
			plan_init(&p, BKEY_PLAN_UNPACK);
			p_load(&p, reg, 8, rnd() % 33);
			if (end < 64)
				p_extract(&p, reg, 8, 0, end, true);
			p_extract(&p, reg, size, shift, width, false);
			p_store(&p, reg, 8, 24);
			p_ret(&p);
			snprintf(name, sizeof(name), "extract-nomask-%d-%d",
				 shift, width);
			if (end < 64)
				e = cost_load_extract(8, 0, end, true) +
				    cost_extract(shift, width, false);
			else
				e = cost_load_extract(8, shift, width, false);
			run_plan(name, &p, NULL, 6, 1 + e);

			/* An op between the load and the extract: no fusion */
			plan_init(&p, BKEY_PLAN_UNPACK);
			p_load(&p, reg, 8, rnd() % 33);
			p_store(&p, reg, 8, 0);
			p_extract(&p, reg, size, shift, width, true);
			p_store(&p, reg, 8, 32);
			p_ret(&p);
			snprintf(name, sizeof(name), "extract-nofuse-%d-%d",
				 shift, width);
			run_plan(name, &p, NULL, 6,
				 3 + cost_extract(shift, width, true));
		}
	}

	/* Not masked, the value exactly filling a smaller load. */
	for (width = 1; width <= 32; width++) {
		plan_init(&p, BKEY_PLAN_UNPACK);
		p_load(&p, 1, 4, 3);
		p_extract(&p, 1, 4, 32 - width, width, false);
		p_store(&p, 1, 4, 12);
		p_ret(&p);
		snprintf(name, sizeof(name), "extract-nomask-top32-%d", width);
		run_plan(name, &p, NULL, 6,
			 1 + cost_load_extract(4, 32 - width, width, false));
	}
}

static void expect_einval(const char *name, const struct bkey_plan *p)
{
	struct bkey_jit_emitted out;
	static u8 buf[BKEY_JIT_MAX_CODE + 64];
	int r1, r2;
	size_t i;

	memset(buf, 0x5a, sizeof(buf));
	r1 = bkey_jit_arch_emit(p, &opts_none, NULL, 0, &out);
	r2 = bkey_jit_arch_emit(p, &opts_none, buf, (unsigned long)buf, &out);
	if (r1 != -EINVAL || r2 != -EINVAL)
		fail("%s: returned %d/%d, expected -EINVAL", name, r1, r2);
	else
		passed++;
	for (i = BKEY_JIT_MAX_CODE; i < sizeof(buf); i++)
		if (buf[i] != 0x5a) {
			fail("%s: wrote past BKEY_JIT_MAX_CODE", name);
			break;
		}
}

static void test_funnel(void)
{
	static const int hsz[] = { 8, 4, 2, 1 };
	struct bkey_plan p;
	char name[64];
	int shift, width;

	for (shift = 1; shift < 64; shift++) {
		for (width = 1; width <= 64; width++) {
			int lo = rnd() % 4, hi = (lo + 1 + rnd() % 3) % 4;
			int lo_off = rnd() % 25, hi_off = rnd() % 29;
			int hi_size = (rnd() & 1) ? 8 : 4;
			bool live;

			if (hi_off + hi_size > 40)
				hi_off = 40 - hi_size;
			plan_init(&p, BKEY_PLAN_UNPACK);
			p_load(&p, lo, 8, lo_off);
			p_load(&p, hi, hi_size, hi_off);
			p_funnel(&p, lo, hi, shift, width);
			p_store(&p, lo, 8, 8 * (rnd() % 5));
			p_ret(&p);
			snprintf(name, sizeof(name), "funnel-%d-%d", shift,
				 width);
			run_plan(name, &p, NULL, 6, 1 +
				 cost_funnel(lo_off, hi_off, hi_size, shift,
					     width, false));

			/* Contiguous words, hi sometimes still used after. */
			hi_size = hsz[(shift + width) % 4];
			lo_off = rnd() % (33 - hi_size);
			live = width % 3 == 0;
			plan_init(&p, BKEY_PLAN_UNPACK);
			if (shift & 1) {
				p_load(&p, hi, hi_size, lo_off + 8);
				p_load(&p, lo, 8, lo_off);
			} else {
				p_load(&p, lo, 8, lo_off);
				p_load(&p, hi, hi_size, lo_off + 8);
			}
			p_funnel(&p, lo, hi, shift, width);
			p_store(&p, lo, 8, 32);
			if (live)
				p_store(&p, hi, 8, 8);
			else if (width & 1)
				p_load(&p, hi, 1, 0);	/* dead: rewritten */
			p_ret(&p);
			snprintf(name, sizeof(name), "funnel-contig%d-%d-%d%s",
				 hi_size, shift, width, live ? "-live" : "");
			run_plan(name, &p, NULL, 6, 1 + live +
				 (!live && (width & 1)) +
				 cost_funnel(lo_off, lo_off + 8, hi_size, shift,
					     width, live));
		}
		/* reg == reg2 (a rotate) is outside the plan: refused */
		plan_init(&p, BKEY_PLAN_UNPACK_POS);
		p_load(&p, 3, 8, shift % 33);
		p_funnel(&p, 3, 3, shift, 64);
		p_store(&p, 3, 8, 12);
		p_ret(&p);
		snprintf(name, sizeof(name), "funnel-rot-%d", shift);
		expect_einval(name, &p);
	}
}

struct imm_case {
	u64	imm;
	int	cost4, cost8;	/* insns for ADD of size 4/8, -1: unchecked */
};

static const struct imm_case add_cases[] = {
	{ 0, 0, 0 },
	{ 1, 1, 1 },
	{ 2, 1, 1 },
	{ 0xfff, 1, 1 },
	{ 0x1000, 1, 1 },
	{ 0x1001, 2, 2 },
	{ 0xfff000, 1, 1 },
	{ 0xffffff, 2, 2 },
	{ 0x1000000, 2, 2 },		/* movz + add */
	{ 0x12345678, 3, 3 },
	{ 0x7fffffff, 2, 2 },		/* orr bitmask + add */
	{ 0x80000000, 2, 2 },
	{ 0xffffffff, 1, 2 },		/* sub #1 / bitmask + add */
	{ 0x100000000ULL, 0, 2 },
	{ 0x123456789abcdef0ULL, 3, 5 },
	{ 0xffffffff00000000ULL, 0, 2 },
	{ 0x8000000000000000ULL, 0, 2 },
	{ 0x5555555555555555ULL, 2, 2 },
	{ 0x00ff00ff00ff00ffULL, 2, 2 },
	{ -1ULL, 1, 1 },
	{ -2ULL, 1, 1 },
	{ -0xfffULL, 1, 1 },
	{ -0x1000ULL, 1, 1 },
	{ -0x1001ULL, 2, 2 },
	{ -0xffffffULL, 2, 2 },
	{ -0x1000000ULL, 2, 2 },
	{ -0x12345678ULL, 3, 3 },	/* movn + movk + sub/add */
	{ (u64)(s64)S32_MIN, 2, 2 },
	{ (u64)(s64)S32_MAX, 2, 2 },
	{ 0xffff1234ffff5678ULL, 2, 3 },	/* movn + movk + add */
	{ 0x0000123400005678ULL, 2, 3 },
	{ 0x1234000000000000ULL, 0, 2 },
	{ 0x1234ffffffffffffULL, -1, 2 },
	{ 0xfffffffffffff000ULL, 1, 1 },
	{ 0xfffffffff0000000ULL, 2, 2 },
	{ 0x00000000ffff0000ULL, 1, 2 },
	{ 0x0f0f0f0f12340f0fULL, -1, 3 },	/* orr bitmask + movk + add */
};

static void test_add(void)
{
	struct bkey_plan p;
	char name[64];
	unsigned int i, n;

	for (i = 0; i < ARRAY_SIZE(add_cases) + 400; i++) {
		const struct imm_case *c = i < ARRAY_SIZE(add_cases) ?
			&add_cases[i] : NULL;
		u64 imm = c ? c->imm : rnd();

		if (!c) {
			/* Random lanes of 0, ffff and random values. */
			u64 v = 0;

			for (n = 0; n < 4; n++) {
				u64 lane = rnd() % 3 == 0 ? 0 :
					   rnd() % 2 ? 0xffff : rnd() & 0xffff;
				v |= lane << (16 * n);
			}
			imm = (i & 1) ? v : imm >> (rnd() % 64);
		}

		plan_init(&p, BKEY_PLAN_UNPACK);
		p_load(&p, i % 4, 8, i % 33);
		p_add(&p, i % 4, 8, imm);
		p_store(&p, i % 4, 8, 32 - 8 * (i % 5));
		p_ret(&p);
		snprintf(name, sizeof(name), "add8-%llx",
			 (unsigned long long)imm);
		run_plan(name, &p, NULL, 8, c && c->cost8 >= 0 ?
			 2 + c->cost8 : -1);

		plan_init(&p, BKEY_PLAN_UNPACK);
		p_load(&p, i % 4, 4, i % 37);
		p_add(&p, i % 4, 4, imm);
		p_store(&p, i % 4, 4, 36 - 4 * (i % 10));
		p_ret(&p);
		snprintf(name, sizeof(name), "add4-%llx",
			 (unsigned long long)imm);
		run_plan(name, &p, NULL, 8, c && c->cost4 >= 0 ?
			 2 + c->cost4 : -1);

		/* A 32-bit add whose carry out must not leak into a store. */
		plan_init(&p, BKEY_PLAN_UNPACK);
		p_load(&p, 0, 8, 0);
		p_add(&p, 0, 4, imm);
		p_store(&p, 0, 4, 20);
		p_ret(&p);
		snprintf(name, sizeof(name), "add4w-%llx",
			 (unsigned long long)imm);
		run_plan(name, &p, NULL, 8, -1);
	}
}

/* STORE_IMM costs (mov + stur) checked for known values. */
static const struct imm_case store_cases[] = {
	{ 0, 1, 1 },
	{ 1, 2, 2 },
	{ 0xffffffff, 2, 2 },
	{ 0x12345678, 3, 3 },
	{ 0xffff0000, 2, 2 },
	{ 0x0000ffff, 2, 2 },
	{ 0xfffffffffffffffeULL, 2, 2 },
	{ 0x123456789abcdef0ULL, 3, 5 },
	{ 0xfedcba9876543210ULL, 3, 5 },
	{ 0x1111222233334444ULL, 3, 5 },
	{ 0xffff0000ffff0000ULL, 2, 2 },	/* bitmask */
	{ 0x0101010101010101ULL, 2, 2 },
	{ 0x0001000000000000ULL, 1, 2 },
	{ 0xffffffff12345678ULL, 3, 3 },	/* movn + movk */
	{ 0x12345678ffffffffULL, 2, 3 },
	{ 0x0000000100000000ULL, 1, 2 },
	{ 0x8000000000000001ULL, 2, 2 },	/* bitmask run wraps */
	{ 0x00000000ffffffffULL, 2, 2 },
	{ 0x0f0f0f0f12340f0fULL, 3, 3 },	/* orr + movk */
	{ 0x1234ffff5678ffffULL, 2, 3 },
	{ 0xffff1234ffffffffULL, 2, 2 },
};

static void test_store_imm(void)
{
	struct bkey_plan p;
	char name[64];
	unsigned int i, n;

	for (i = 0; i < ARRAY_SIZE(store_cases) + 600; i++) {
		const struct imm_case *c = i < ARRAY_SIZE(store_cases) ?
			&store_cases[i] : NULL;
		u64 imm = c ? c->imm : 0;

		if (!c) {
			for (n = 0; n < 4; n++) {
				u64 lane = rnd() % 3 == 0 ? 0 :
					   rnd() % 2 ? 0xffff : rnd() & 0xffff;

				if (i % 3 == 0)
					lane = rnd() & 0xffff;
				imm |= lane << (16 * n);
			}
		}

		plan_init(&p, BKEY_PLAN_UNPACK);
		p_store_imm(&p, 8, 32 - (i % 33), imm);
		p_ret(&p);
		snprintf(name, sizeof(name), "storeimm8-%llx",
			 (unsigned long long)imm);
		run_plan(name, &p, NULL, 2, c ? c->cost8 : -1);

		plan_init(&p, BKEY_PLAN_UNPACK);
		p_store_imm(&p, 4, 36 - (i % 37), imm);
		p_ret(&p);
		snprintf(name, sizeof(name), "storeimm4-%llx",
			 (unsigned long long)imm);
		run_plan(name, &p, NULL, 2, c ? c->cost4 : -1);

		plan_init(&p, BKEY_PLAN_UNPACK_POS);
		p_store_imm(&p, 8, 12 - (i % 13), imm);
		p_ret(&p);
		snprintf(name, sizeof(name), "pos-storeimm8-%llx",
			 (unsigned long long)imm);
		run_plan(name, &p, NULL, 2, c ? c->cost8 : -1);
	}
}

/* A store source: a register (0..3) or an immediate. */
struct st_src {
	bool	is_imm;
	int	reg;
	u64	imm;
};

static void p_store_src(struct bkey_plan *p, const struct st_src *s, int size,
			int off)
{
	if (s->is_imm)
		p_store_imm(p, size, off, s->imm);
	else
		p_store(p, s->reg, size, off);
}

static const struct st_src pair_srcs[] = {
	{ false, 0, 0 }, { false, 1, 0 }, { true, 0, 0 },
	{ true, 0, 0x1234 }, { true, 0, 0x123456789abcdef0ULL },
	{ true, 0, -1ULL },
};

/* Two stores, with @mid selecting what comes between them. */
static void pair_case(unsigned int size, unsigned int a, unsigned int b,
		      unsigned int offa, unsigned int mid)
{
	unsigned int offb = (offa + size) % (40 - size + 4);
	struct bkey_plan p;
	char name[96];
	int pairable;

	if (rnd() & 1)
		offb = rnd() % (41 - size);
	if (offb == offa || (offb < offa + size && offa < offb + size))
		return;
	plan_init(&p, BKEY_PLAN_UNPACK);
	p_load(&p, 0, 8, 0);
	p_load(&p, 1, 8, 13);
	p_store_src(&p, &pair_srcs[a], size, offa);
	switch (mid) {
	case 1:	/* ALU op on another register: still pairs */
		p_add(&p, 2, 8, 0x123456789ULL);
		p_extract(&p, 3, 8, 3, 7, true);
		break;
	case 2:	/* clobbers reg 0: the first store goes first */
		p_extract(&p, 0, 8, 5, 9, true);
		p_add(&p, 0, 8, 77);
		break;
	case 3:	/* a load in between: never reordered */
		p_load(&p, 2, 4, 9);
		break;
	}
	p_store_src(&p, &pair_srcs[b], size, offb);
	p_ret(&p);
	pairable = (offb == offa + size && !(offa % size)) ||
		   (offa == offb + size && !(offb % size));
	snprintf(name, sizeof(name), "pair%u-%u-%u-@%u-@%u-mid%u%s",
		 size, a, b, offa, offb, mid, pairable ? "-stp" : "");
	run_plan(name, &p, NULL, 4, -1);
}

/* Pairs of stores, with and without ALU ops between them, for STP. */
/* Blinded ADD (MUL) and STORE_IMM (XOR, MUL) next to pending stores. */
static void test_blinded(void)
{
	struct bkey_plan p;
	char name[64];
	unsigned int i;

	for (i = 0; i < 300; i++) {
		struct bkey_plan_op *op;

		plan_init(&p, BKEY_PLAN_UNPACK);
		p_load(&p, 0, 8, 8);
		p_load(&p, 1, 8, 16);
		p_add(&p, 0, 8, rnd());
		op = &p.ops[p.nr_ops - 1];
		op->blind = BKEY_PLAN_BLIND_MUL;
		op->key = (u32)rnd() | 1;
		p_store(&p, 1, 8, 24);
		p_store_imm(&p, 4, 32, rnd());
		op = &p.ops[p.nr_ops - 1];
		op->blind = BKEY_PLAN_BLIND_XOR;
		op->key = (u32)rnd();
		p_store(&p, 0, 8, 8);
		p_store_imm(&p, 8, 0, rnd());
		op = &p.ops[p.nr_ops - 1];
		op->blind = i & 1 ? BKEY_PLAN_BLIND_MUL : BKEY_PLAN_BLIND_XOR;
		op->key = (u32)rnd() | 1;
		/* XOR of a size 8 value: imm is a sign-extended imm32. */
		if (op->blind == BKEY_PLAN_BLIND_XOR)
			op->imm = (u64)(s64)(s32)op->imm;
		p_store_imm(&p, 4, 36, rnd());
		p_ret(&p);
		snprintf(name, sizeof(name), "blinded-%u", i);
		run_plan(name, &p, NULL, 4, -1);
	}
}

static void test_store_pairs(void)
{
	unsigned int a, b, size, offa, mid;
	struct bkey_plan p;

	for (size = 4; size <= 8; size += 4)
		for (a = 0; a < ARRAY_SIZE(pair_srcs); a++)
			for (b = 0; b < ARRAY_SIZE(pair_srcs); b++)
				for (offa = 0; offa + size <= 40; offa += 4)
					for (mid = 0; mid < 4; mid++)
						pair_case(size, a, b, offa, mid);

	/* Exact counts for the common cases. */
	plan_init(&p, BKEY_PLAN_UNPACK);
	p_load(&p, 0, 8, 0);
	p_load(&p, 1, 8, 8);
	p_store(&p, 0, 8, 24);
	p_store(&p, 1, 8, 32);
	p_ret(&p);
	run_plan("stp-x-regs", &p, NULL, 8, 3);

	plan_init(&p, BKEY_PLAN_UNPACK);
	p_store_imm(&p, 4, 20, 0);
	p_store_imm(&p, 4, 16, 0);
	p_ret(&p);
	run_plan("stp-wzr", &p, NULL, 2, 1);

	plan_init(&p, BKEY_PLAN_UNPACK);
	p_store_imm(&p, 8, 24, 0x123456789abcdef0ULL);
	p_store_imm(&p, 8, 32, 0x123456789abcdef0ULL);
	p_ret(&p);
	run_plan("stp-same-imm", &p, NULL, 2, 5);

	plan_init(&p, BKEY_PLAN_UNPACK);
	p_load(&p, 0, 8, 0);
	p_store(&p, 0, 8, 24);
	p_extract(&p, 1, 8, 1, 2, true);
	p_store(&p, 1, 8, 32);
	p_ret(&p);
	run_plan("stp-across-alu", &p, NULL, 8, 3);
}

static void fill_header(u8 *src, unsigned int iter, void *arg)
{
	(void)arg;
	fill_random(src, iter, NULL);
	src[0] = iter & 0xff;
	src[1] = iter >> 8;
}

static void test_header(void)
{
	static const u64 imms[] = {
		0, 1, 2, 3, 4, 5, 255, 256, 0x1ff, -1ULL, 0x12345678ULL,
	};
	struct bkey_plan p;
	char name[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(imms); i++) {
		plan_init(&p, BKEY_PLAN_UNPACK);
		p_header(&p, imms[i]);
		p_ret(&p);
		snprintf(name, sizeof(name), "header-%llx",
			 (unsigned long long)imms[i]);
		/* Every u64s byte (incl. 250..255 wrapping) x every byte 1. */
		run_plan_fill(name, &p, NULL, 65536, fill_header, NULL,
			      (imms[i] & 0xff) ? 6 : 5);
	}

	/* Header followed by stores that must not disturb it. */
	plan_init(&p, BKEY_PLAN_UNPACK);
	p_header(&p, 2);
	p_store_imm(&p, 8, 4, 0);
	p_store_imm(&p, 4, 12, 0);
	p_ret(&p);
	run_plan_fill("header-stores", &p, NULL, 65536, fill_header, NULL, 8);
}

/* A plausible unpack plan of a 3-u64 extent format. */
static void typical_plan(struct bkey_plan *p)
{
	plan_init(p, BKEY_PLAN_UNPACK);
	p_header(p, 2);
	/* inode: 20 bits at bit 24 of word 0, + field offset */
	p_load(p, 0, 8, 0);
	p_extract(p, 0, 8, 24, 20, true);
	p_add(p, 0, 8, 4096);
	/* offset: 40 bits straddling words 0 and 1 */
	p_load(p, 1, 8, 0);
	p_load(p, 2, 8, 8);
	p_funnel(p, 1, 2, 44, 40);
	p_store(p, 1, 8, 24);
	p_store(p, 0, 8, 32);
	/* snapshot: 32 bits at bit 84 */
	p_load(p, 3, 8, 8);
	p_extract(p, 3, 8, 20, 32, true);
	p_add(p, 3, 4, 0xfffffff0);
	/* size: 16 bits at bit 116 */
	p_load(p, 2, 4, 12);
	p_extract(p, 2, 4, 20, 12, true);
	p_store(p, 2, 4, 16);
	p_store(p, 3, 4, 20);
	/* version: all zero */
	p_store_imm(p, 8, 4, 0);
	p_store_imm(p, 4, 12, 0);
	p_ret(p);
}

static void test_options(void)
{
	struct bkey_jit_emit_opts o;
	struct bkey_plan p;
	char name[64];
	unsigned int m;
	int n, base = -1;

	typical_plan(&p);
	for (m = 0; m < 32; m++) {
		memset(&o, 0, sizeof(o));
		o.endbr = m & 1;
		o.bti = m & 2;
		o.cfi = m & 4;
		o.cfi_padding = m & 8;
		o.return_thunk = (m & 16) ? 0xffffffff81234567UL : 0;
		o.cfi_hash = (u32)rnd();
		snprintf(name, sizeof(name), "typical-opts%u", m);
		n = run_plan(name, &p, &o, 64, -1);
		if (n < 0)
			continue;
		if (base < 0)
			base = n;
		/* Only bti adds an instruction after the entry. */
		check(n == base + (o.bti ? 1 : 0), "options change the body");
	}
	printf("typical plan (%u ops): %d instructions, %d with BTI\n",
	       p.nr_ops, base, base + 1);
}

/* Valid ops, but more code than BKEY_JIT_MAX_CODE. */
static void too_long_plan(struct bkey_plan *p)
{
	int i;

	for (i = 0; i < BKEY_PLAN_MAX_OPS - 1; i++)
		p_store_imm(p, 8, 8 * (i % 5), 0x123456789abcdef0ULL + i);
	p_ret(p);
}

static void test_malformed(void)
{
	struct bkey_plan p;

#define BAD(name, ...) do {				\
		plan_init(&p, BKEY_PLAN_UNPACK);	\
		__VA_ARGS__;				\
		expect_einval(name, &p);		\
	} while (0)

	BAD("bad-kind", p.kind = 7; p_ret(&p));
	BAD("bad-opcode", plan_op(&p, 99); p_ret(&p));
	BAD("load-reg", p_load(&p, 4, 8, 0); p_ret(&p));
	BAD("add-blind-xor", p_add(&p, 0, 8, 1);
	    p.ops[p.nr_ops - 1].blind = BKEY_PLAN_BLIND_XOR; p_ret(&p));
	BAD("add-blind-mul-size4", p_add(&p, 0, 4, 1);
	    p.ops[p.nr_ops - 1].blind = BKEY_PLAN_BLIND_MUL; p_ret(&p));
	BAD("store-imm-blind-3", p_store_imm(&p, 8, 0, 1);
	    p.ops[p.nr_ops - 1].blind = 3; p_ret(&p));
	BAD("load-size3", p_load(&p, 0, 3, 0); p_ret(&p));
	BAD("load-size0", p_load(&p, 0, 0, 0); p_ret(&p));
	BAD("load-off", p_load(&p, 0, 8, 33); p_ret(&p));
	BAD("load-off255", p_load(&p, 0, 1, 255); p_ret(&p));
	BAD("extract-reg", p_extract(&p, 9, 8, 0, 8, true); p_ret(&p));
	BAD("extract-size", p_extract(&p, 0, 2, 0, 8, true); p_ret(&p));
	BAD("extract-shift", p_extract(&p, 0, 8, 64, 8, true); p_ret(&p));
	BAD("extract-width0", p_extract(&p, 0, 8, 0, 0, true); p_ret(&p));
	BAD("extract-width65", p_extract(&p, 0, 8, 0, 65, true); p_ret(&p));
	BAD("funnel-reg2", p_funnel(&p, 0, 4, 8, 8); p_ret(&p));
	BAD("funnel-shift0", p_funnel(&p, 0, 1, 0, 8); p_ret(&p));
	BAD("funnel-shift64", p_funnel(&p, 0, 1, 64, 8); p_ret(&p));
	BAD("funnel-width0", p_funnel(&p, 0, 1, 8, 0); p_ret(&p));
	BAD("add-size", p_add(&p, 0, 2, 1); p_ret(&p));
	BAD("add-reg", p_add(&p, 5, 8, 1); p_ret(&p));
	BAD("store-size", p_store(&p, 0, 2, 0); p_ret(&p));
	BAD("store-reg", p_store(&p, 4, 8, 0); p_ret(&p));
	BAD("store-off", p_store(&p, 0, 8, 33); p_ret(&p));
	BAD("store-imm-off", p_store_imm(&p, 4, 37, 0); p_ret(&p));
	BAD("pos-store-off", p.kind = BKEY_PLAN_UNPACK_POS;
	    p_store(&p, 0, 8, 13); p_ret(&p));
	BAD("pos-header", p.kind = BKEY_PLAN_UNPACK_POS; p_header(&p, 0);
	    p_ret(&p));
	BAD("op-after-ret", p_ret(&p); p_store_imm(&p, 4, 0, 0));
	BAD("too-many-ops", p.nr_ops = BKEY_PLAN_MAX_OPS + 1);
	BAD("too-long", too_long_plan(&p));
#undef BAD

	check(bkey_jit_arch_emit(NULL, &opts_none, NULL, 0, NULL) == -EINVAL,
	      "NULL plan");

	/*
	 * The shared driver's rules: a plan ends in RET, and an empty one
	 * (what bkey_plan_blind() leaves when it has no room) is refused.
	 */
	plan_init(&p, BKEY_PLAN_UNPACK);
	p_store_imm(&p, 4, 0, 7);
	expect_einval("no-ret", &p);
	plan_init(&p, BKEY_PLAN_UNPACK);
	expect_einval("empty", &p);
	/* No options pointer is fine. */
	plan_init(&p, BKEY_PLAN_UNPACK);
	p_store_imm(&p, 4, 0, 7);
	p_ret(&p);
	run_plan("no-opts", &p, NULL, 2, 2);
}

/* Random plans shaped like bkey_plan_build() output. */
static void random_plan(struct bkey_plan *p)
{
	static const u8 bkey_slots[6][2] = {
		{ 32, 8 }, { 24, 8 }, { 20, 4 }, { 16, 4 }, { 12, 4 }, { 4, 8 },
	};
	static const u8 pos_slots[3][2] = { { 12, 8 }, { 4, 8 }, { 0, 4 } };
	bool pos = rnd() & 1;
	unsigned int nr = pos ? 3 : 6, order[6], i, j;

	plan_init(p, pos ? BKEY_PLAN_UNPACK_POS : BKEY_PLAN_UNPACK);
	if (!pos)
		p_header(p, rnd() % 8);
	for (i = 0; i < nr; i++)
		order[i] = i;
	for (i = nr - 1; i > 0; i--) {
		unsigned int t;

		j = rnd() % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < nr; i++) {
		const u8 *slot = pos ? pos_slots[order[i]] :
				       bkey_slots[order[i]];
		int off = slot[0], size = slot[1], reg = rnd() % 4;
		int width = 1 + rnd() % (size * 8), kind = rnd() % 8;

		if (kind == 0) {
			p_store_imm(p, size, off, (rnd() & 1) ? 0 : rnd());
			continue;
		}
		if (kind == 1 && width > 1) {
			/* Straddling two words */
			int reg2 = (reg + 1 + rnd() % 3) % 4;
			int shift = 1 + rnd() % 63;

			if (shift + width <= 64)
				shift = 64 - width + 1 + rnd() % (width - 1);
			int lo_off = rnd() % 25, hi_off = rnd() % 33;

			if (rnd() & 1) {	/* adjacent words: fusable */
				lo_off = 8 * (rnd() % 4);
				hi_off = lo_off + 8;
			}
			p_load(p, reg, 8, lo_off);
			p_load(p, reg2, 8, hi_off);
			p_funnel(p, reg, reg2, shift, width);
			/* Sometimes the high word is used again later. */
			if (rnd() & 1)
				p_store(p, reg2, 4, pos || (rnd() & 1) ? 0 : 36);
		} else if (kind == 2) {
			/* Field at the top of a smaller load, no mask */
			static const int lsz[] = { 1, 2, 4, 8 };
			int ls = lsz[rnd() % 4], bits = ls * 8;

			if (width > bits)
				width = bits;
			p_load(p, reg, ls, rnd() % (41 - ls));
			p_extract(p, reg, ls == 8 ? 8 : 4, bits - width, width,
				  false);
		} else {
			int shift = rnd() % (65 - width);

			p_load(p, reg, 8, rnd() % 33);
			p_extract(p, reg, shift + width <= 32 ? 4 : 8, shift,
				  width, true);
		}
		if (rnd() % 3)
			p_add(p, reg, size, (rnd() & 1) ? rnd() % 5000 :
			      rnd() >> (rnd() % 64));
		p_store(p, reg, size, off);
	}
	p_ret(p);
}

static void test_random_plans(void)
{
	struct bkey_jit_emit_opts o = { .bti = true };
	struct bkey_plan p;
	unsigned long ops = 0, insns = 0;
	char name[64];
	int i, n;

	for (i = 0; i < 3000; i++) {
		random_plan(&p);
		snprintf(name, sizeof(name), "random-%d", i);
		o.cfi = i & 1;
		o.cfi_hash = (u32)rnd();
		n = run_plan(name, &p, (i & 2) ? &o : NULL, 32, -1);
		if (n > 0) {
			ops += p.nr_ops;
			insns += n;
		}
	}
	printf("random plans: %lu ops -> %lu instructions (%.2f per op)\n",
	       ops, insns, ops ? (double)insns / ops : 0.0);
}

static void test_fill_trap(void)
{
	u8 buf[32];
	unsigned int size, i;
	bool ok;

	for (size = 0; size <= 24; size++) {
		memset(buf, 0x77, sizeof(buf));
		bkey_jit_arch_fill_trap(buf, size);
		ok = trap_filled(buf, 0, size & ~3u);
		for (i = size & ~3u; i < size; i++)
			ok &= buf[i] == 0;
		for (i = size; i < sizeof(buf); i++)
			ok &= buf[i] == 0x77;
		check(ok, "fill_trap");
	}
	check(!strcmp(bkey_jit_arch_name, "arm64"), "arch name");
}

int main(int argc, char **argv)
{
	char idx[4096];

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		verbose = true;
		argc--;
		argv++;
	}
	if (argc > 1) {
		snprintf(idx, sizeof(idx), "%s.idx", argv[1]);
		dump_code = fopen(argv[1], "wb");
		dump_idx = fopen(idx, "w");
		if (!dump_code || !dump_idx) {
			perror(argv[1]);
			return 2;
		}
	}

	test_fill_trap();
	test_malformed();
	test_loads();
	test_extract();
	test_funnel();
	test_add();
	test_store_imm();
	test_blinded();
	test_store_pairs();
	test_header();
	test_options();
	test_random_plans();

	if (dump_code) {
		fclose(dump_code);
		fclose(dump_idx);
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
