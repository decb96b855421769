// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace differential tests of bkey-jit: JIT code, the generic C unpack
 * and an independent bit-at-a-time reference must agree on every byte of
 * struct bkey (and of struct bpos for the position-only variant), for a
 * structured set of formats and for random ones; plus refusals, fallback,
 * the allocator's W^X discipline and cache concurrency.
 *
 * usage: test_unpack [--random N] [--keys N] [--seed S] [--dump FILE]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bkey_jit.h"
#include "bkey_jit_plan.h"
#include "vmalloc_exec.h"
#include "tests/ref_unpack.h"
#include "tests/blind_scan.h"
#include "tests/test_util.h"
#include "tests/ebpf_interp.h"
#include "bkey_jit_bpf.h"
#include "bch_cmp_bits.h"	/* 6.12's __bkey_cmp_bits(), scripts/cmp-bits.sh */

static unsigned long nr_random_formats = 100000;
static unsigned int keys_per_format = 48;
static FILE *dump_file;
static unsigned long key_checks;

/* Largest offset that keeps the field from overflowing, per bcachefs. */
static u64 max_offset(unsigned int field, unsigned int bits)
{
	if (bits == ref_field_width(field))
		return 0;
	return ref_mask(ref_field_width(field)) - ref_mask(bits);
}

/* Offset classes: 0, small, above S32_MAX, the largest valid. */
static u64 pick_offset(unsigned int field, unsigned int bits, unsigned int cls)
{
	u64 max = max_offset(field, bits);

	switch (cls % 5) {
	case 0:
		return 0;
	case 1:
		return min(max, (u64)(rng64() & 0xffff));
	case 2:
		return min(max, (u64)S32_MAX + 1 + (rng64() & 0xffffff));
	case 3:
		return max;
	default:
		return max == U64_MAX ? rng64() : rng64() % (max + 1);
	}
}

static void key_random(const struct bkey_format *f, struct bkey_packed *k)
{
	unsigned int w;

	memset(k, 0, sizeof(*k));
	for (w = 0; w < f->key_u64s; w++) {
		u64 v = rng64();

		memcpy((u8 *)k + 8 * w, &v, 8);
	}
	/* Poison the words past the key: nothing may read them. */
	for (; w < 5; w++)
		memset((u8 *)k + 8 * w, 0xa5, 8);
}

static void key_from_values(const struct bkey_format *f, struct bkey_packed *k,
			    unsigned int pattern)
{
	u64 val[6];
	unsigned int i;

	key_random(f, k);
	for (i = 0; i < 6; i++) {
		u64 m = ref_mask(f->bits_per_field[i]);

		switch (pattern % 4) {
		case 0:
			val[i] = 0;
			break;
		case 1:
			val[i] = m;
			break;
		case 2:
			val[i] = m & 0xaaaaaaaaaaaaaaaaULL;
			break;
		default:
			val[i] = m & ~(m >> 1);	/* top bit only */
			break;
		}
	}
	ref_pack_fields(f, k, val);
}

/*
 * For the encoding check: emit the format's functions again into a
 * plain buffer and record, from the entry on, the bytes and the
 * instruction count the emitter claims (tests/check-encoding.py).
 */
static void dump_code(const struct bkey_format *f)
{
	struct bkey_jit_emit_opts o = { 0 };
	struct bkey_jit_emitted out;
	struct bkey_plan plan;
	u8 buf[BKEY_JIT_MAX_CODE];
	unsigned int kind;

	for (kind = 0; kind < BKEY_PLAN_NR_KINDS; kind++) {
		if (bkey_plan_build(f, kind, &plan))
			return;
		/* Blinded, as the cache compiles it. */
		bkey_plan_blind(&plan, rng64());
		if (bkey_jit_arch_emit(&plan, &o, buf, (unsigned long)buf, &out))
			return;
		fprintf(dump_file, "%u %u", out.nr_insns, out.len - out.entry);
		for (unsigned int i = out.entry; i < out.len; i++)
			fprintf(dump_file, " %02x", buf[i]);
		fprintf(dump_file, "\n");
	}
}

struct diff_case {
	struct test_case tc;
	char fmt[256];
};

static bool check_key(struct test_case *tc, struct bkey_jit *j,
		      const struct bkey_packed *k)
{
	struct bkey a, b, c, d;
	struct bpos pa, pb, pc;
	bool ok;

	memset(&a, 0x11, sizeof(a));
	memset(&b, 0x22, sizeof(b));
	memset(&pa, 0x33, sizeof(pa));
	memset(&pb, 0x44, sizeof(pb));
	bkey_jit_unpack(j, &a, k);
	bkey_jit_unpack_generic(j, &b, k);
	ref_unpack_bits(&j->format, k, &c);
	d = bch_unpack_key(&j->format, k);
	bkey_jit_unpack_pos(j, &pa, k);
	bkey_jit_unpack_pos_generic(j, &pb, k);
	ref_unpack_pos_bits(&j->format, k, &pc);
	key_checks++;

	ok = !memcmp(&a, &c, 40) && !memcmp(&b, &c, 40) && !memcmp(&d, &c, 40) &&
	     !memcmp(&pa, &pc, 20) && !memcmp(&pb, &pc, 20);
	if (!ok) {
		char buf[256], plan[2048];
		unsigned int i;

		bkey_jit_format_to_text(buf, sizeof(buf), &j->format);
		bkey_jit_plan_to_text(plan, sizeof(plan), &j->format, false);
		tc_check(tc, 0, "format %s\nkey:", buf);
		for (i = 0; i < 8 * j->format.key_u64s; i++)
			fprintf(stderr, " %02x", ((const u8 *)k)[i]);
		fprintf(stderr, "\njit %d generic %d bch %d pos-jit %d pos-generic %d\nplan:\n%s",
			!memcmp(&a, &c, 40), !memcmp(&b, &c, 40), !memcmp(&d, &c, 40),
			!memcmp(&pa, &pc, 20), !memcmp(&pb, &pc, 20), plan);
		return false;
	}
	tc->checks++;
	return true;
}

/*
 * The eBPF backend in the same differential: each format's two plans,
 * blinded, lowered with and without fast misaligned access, run in the
 * test interpreter on the same keys. The interpreter grants the program
 * only the context, the key's key_u64s words and the destination, and in
 * the aligned variant traps on any misaligned access.
 */
enum { EBPF_UNALIGNED, EBPF_ALIGNED, EBPF_NR_VARIANTS };

static const struct bkey_jit_caps ebpf_caps[EBPF_NR_VARIANTS] = {
	[EBPF_UNALIGNED]	= { .unaligned = true },
	[EBPF_ALIGNED]		= { .unaligned = false },
};

struct ebpf_progs {
	struct bpf_insn	insns[EBPF_NR_VARIANTS][2][BKEY_JIT_BPF_MAX_INSNS];
	unsigned int	len[EBPF_NR_VARIANTS][2];
	unsigned int	nr_insns[EBPF_NR_VARIANTS][2];
};

static struct test_case ebpf_tc = { .name = "differential: eBPF backend (interpreted)" };
static unsigned long ebpf_programs, ebpf_runs[EBPF_NR_VARIANTS], ebpf_differ;
static unsigned long ebpf_executed[EBPF_NR_VARIANTS][2], ebpf_exec_runs[EBPF_NR_VARIANTS][2];

static bool imm_from_plan(const struct bkey_plan *plan, s32 imm)
{
	unsigned int i;

	for (i = 0; i < plan->nr_ops; i++) {
		const struct bkey_plan_op *op = &plan->ops[i];

		if ((op->code == BKEY_PLAN_ADD || op->code == BKEY_PLAN_STORE_IMM) &&
		    ((u32)imm == (u32)op->imm || (u32)imm == (u32)(op->imm >> 32) ||
		     (op->blind && (u32)imm == op->key)))
			return true;
	}
	return false;
}

/*
 * Every immediate in the program is a shift count, a small value, one of
 * the header's fixed masks, or a value the plan holds (its blinded
 * constants): nothing the lowering derives from the format on its own.
 */
static unsigned long ebpf_imm_checks;

static void ebpf_check_imms(const struct bkey_plan *plan, const struct bpf_insn *insns,
			    unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++) {
		const struct bpf_insn *in = &insns[i];
		u8 op = BPF_OP(in->code);
		bool shift = (BPF_CLASS(in->code) == BPF_ALU64 || BPF_CLASS(in->code) == BPF_ALU) &&
			     (op == BPF_LSH || op == BPF_RSH || op == BPF_END);
		s32 imm = in->imm;
		bool ok = (shift && imm >= 0 && imm < 64) || (imm >= -128 && imm <= 127) ||
			  imm == 0x00ff80ff || imm == 0x100 || imm_from_plan(plan, imm);

		if (in->code == (BPF_LD | BPF_DW | BPF_IMM) && i + 1 < len)
			ok = imm_from_plan(plan, imm) && imm_from_plan(plan, insns[++i].imm);
		ebpf_imm_checks++;
		tc_check(&ebpf_tc, ok, "insn %u (code %#x) carries imm %#x not from the plan",
			 i, in->code, (u32)imm);
	}
}

static bool ebpf_lower_format(const struct bkey_format *f, struct ebpf_progs *p)
{
	unsigned int v, kind, insns;
	struct bkey_plan plan;

	for (kind = 0; kind < 2; kind++) {
		if (bkey_plan_build(f, kind, &plan))
			return false;
		bkey_plan_blind(&plan, rng64());
		for (v = 0; v < EBPF_NR_VARIANTS; v++) {
			int ret = bkey_jit_bpf_lower(&plan, &ebpf_caps[v], p->insns[v][kind],
						     &p->len[v][kind], &insns);

			p->nr_insns[v][kind] = insns;

			tc_check(&ebpf_tc, !ret, "lowering failed: %d", ret);
			if (ret)
				return false;
			ebpf_check_imms(&plan, p->insns[v][kind], p->len[v][kind]);
			ebpf_programs++;
		}
		ebpf_differ += p->len[0][kind] != p->len[1][kind] ||
			       memcmp(p->insns[0][kind], p->insns[1][kind],
				      p->len[0][kind] * sizeof(struct bpf_insn));
	}
	return true;
}

/* Run one program on @k into @dst (@dst_len bytes); 0 or -EINVAL. */
static int ebpf_run_one(const struct ebpf_progs *p, unsigned int v,
			unsigned int kind, const struct bkey_format *f,
			const struct bkey_packed *k, void *dst, unsigned int dst_len)
{
	struct bkey_jit_bpf_ctx ctx = { .dst = dst, .src = k };
	struct ebpf_vm vm = {
		.regions = {
			{ &ctx, sizeof(ctx), false },
			{ k, 8 * f->key_u64s, false },
			{ dst, dst_len, true },
		},
		.nr_regions	= 3,
		.strict_align	= v == EBPF_ALIGNED,
	};
	int ret = ebpf_run(&vm, p->insns[v][kind], p->len[v][kind],
			   (u64)(unsigned long)&ctx, NULL);

	if (ret)
		fprintf(stderr, "ebpf: %s\n", vm.err);
	ebpf_executed[v][kind] += vm.executed;
	ebpf_exec_runs[v][kind]++;
	return ret;
}

static void ebpf_check_key(const struct ebpf_progs *p, const struct bkey_format *f,
			   const struct bkey_packed *k)
{
	struct bkey a __aligned(8), c;
	struct bpos pa __aligned(8), pc;
	unsigned int v;

	ref_unpack_bits(f, k, &c);
	ref_unpack_pos_bits(f, k, &pc);
	for (v = 0; v < EBPF_NR_VARIANTS; v++) {
		int r1, r2;

		memset(&a, 0x55, sizeof(a));
		memset(&pa, 0x66, sizeof(pa));
		r1 = ebpf_run_one(p, v, BKEY_PLAN_UNPACK, f, k, &a, sizeof(a));
		r2 = ebpf_run_one(p, v, BKEY_PLAN_UNPACK_POS, f, k, &pa, sizeof(pa));
		ebpf_runs[v] += 2;
		if (!r1 && !r2 && !memcmp(&a, &c, 40) && !memcmp(&pa, &pc, 20)) {
			ebpf_tc.checks++;
			continue;
		}
		{
			char buf[256];

			bkey_jit_format_to_text(buf, sizeof(buf), f);
			tc_check(&ebpf_tc, 0, "%s variant: format %s: run %d/%d, full %s, pos %s",
				 v == EBPF_ALIGNED ? "aligned" : "unaligned", buf, r1, r2,
				 memcmp(&a, &c, 40) ? "differs" : "ok",
				 memcmp(&pa, &pc, 20) ? "differs" : "ok");
		}
	}
}

/*
 * The bound: the eBPF program's own instructions at most twice the
 * native backend's, per function (straight-line code: what runs per key).
 */
static double ebpf_worst_ratio[2];
static char ebpf_worst_format[2][256];

struct native_probe {
	const struct bkey_jit	*j;
	unsigned int		insns[2];	/* full, pos */
};

static void native_insns(const struct bkey_jit *j, const struct bkey_jit_info *info,
			 void *arg)
{
	struct native_probe *p = arg;

	if (j == p->j) {
		p->insns[0] = info->unpack_insns;
		p->insns[1] = info->pos_insns;
	}
}

static void ebpf_compare_native(struct bkey_jit *j, const struct ebpf_progs *p)
{
	struct native_probe probe = { .j = j };
	unsigned int kind;

	if (!j->unpack)
		return;
	bkey_jit_for_each(native_insns, &probe);
	for (kind = 0; kind < 2; kind++) {
		double r = probe.insns[kind] ?
			   (double)p->nr_insns[EBPF_UNALIGNED][kind] / probe.insns[kind] : 0;

		if (r > ebpf_worst_ratio[kind]) {
			ebpf_worst_ratio[kind] = r;
			bkey_jit_format_to_text(ebpf_worst_format[kind],
						sizeof(ebpf_worst_format[kind]), &j->format);
		}
	}
}

static void check_format(struct test_case *tc, const struct bkey_format *f,
			 bool want_code)
{
	struct bkey_packed k __aligned(8);
	struct bkey_jit *j = bkey_jit_get(f);
	static struct ebpf_progs progs;
	bool ebpf;
	unsigned int i;

	if (IS_ERR(j)) {
		char buf[256];

		bkey_jit_format_to_text(buf, sizeof(buf), f);
		tc_check(tc, 0, "valid format refused: %s (error %ld, validation %d)", buf,
			 PTR_ERR(j), bkey_format_validate(f, NULL, 0));
		return;
	}
	if (want_code)
		tc_check(tc, j->unpack && j->unpack_pos,
			 "no code for a valid format (fallback %u)", j->fallback);

	ebpf = ebpf_lower_format(f, &progs);
	if (ebpf && want_code)
		ebpf_compare_native(j, &progs);
	for (i = 0; i < keys_per_format; i++) {
		if (i < 4)
			key_from_values(f, &k, i);
		else
			key_random(f, &k);
		if (ebpf)
			ebpf_check_key(&progs, f, &k);
		if (!check_key(tc, j, &k))
			break;
	}
	bkey_jit_put(j);
	if (dump_file && want_code)
		dump_code(f);
}

/*
 * A format with @field at @bits wide and @pre bits spread over the fields
 * before it (each below its full width); later fields empty, offsets 0.
 */
static void field_after_bits(struct bkey_format *f, unsigned int field,
			     unsigned int bits, unsigned int pre)
{
	unsigned int i, left = pre;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < field && left; i++) {
		unsigned int b = min(left, ref_field_width(i) - 1);

		f->bits_per_field[i] = b;
		left -= b;
	}
	f->bits_per_field[field] = bits;
}

/* An offset of a random kind (pick_offset()) for every field. */
static void pick_offsets(struct bkey_format *f)
{
	unsigned int i;

	for (i = 0; i < 6; i++)
		f->field_offset[i] = pick_offset(i, f->bits_per_field[i],
						 rng_below(5));
}

/*
 * Every field at every width, after 0..63 bits of preceding fields (so
 * each width meets every bit position within a word, straddles included),
 * with each offset class.
 */
static void test_structured(bool want_code)
{
	struct test_case tc = { .name = "differential: structured formats" };
	unsigned int field, bits, pre, cls;
	unsigned long nr = 0;

	for (field = 0; field < 6; field++)
		for (bits = 0; bits <= ref_field_width(field); bits++)
			for (pre = 0; pre < (field ? 64 : 1); pre += field ? 3 : 1)
				for (cls = 0; cls < 2; cls++) {
					struct bkey_format f;
					unsigned int i;

					field_after_bits(&f, field, bits, pre);
					/* Trailing fields: empty or full. */
					for (i = field + 1; i < 6; i++)
						f.bits_per_field[i] = cls ? ref_field_width(i) / 2 : 0;
					pick_offsets(&f);
					ref_format_finish(&f);
					check_format(&tc, &f, want_code);
					nr++;
				}

	/* The unpacked "current" format and the all-zero one. */
	{
		struct bkey_format cur = {
			.bits_per_field = { 64, 64, 32, 32, 32, 64 },
		};
		struct bkey_format zero = { 0 };

		ref_format_finish(&cur);
		ref_format_finish(&zero);
		check_format(&tc, &cur, want_code);
		zero.field_offset[0] = 4096;
		zero.field_offset[2] = U32_MAX;
		check_format(&tc, &zero, want_code);
	}
	printf("# structured: %lu formats\n", nr + 2);
	tc_end(&tc);
}

static void random_format(struct bkey_format *f)
{
	unsigned int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < 6; i++) {
		unsigned int r = rng_below(8);
		unsigned int b;

		if (r < 2)
			b = 0;
		else if (r == 2)
			b = ref_field_width(i);
		else
			b = rng_below(ref_field_width(i) + 1);
		f->bits_per_field[i] = b;
		f->field_offset[i] = pick_offset(i, b, rng_below(5));
	}
	ref_format_finish(f);
}

static void test_random(bool want_code)
{
	struct test_case tc = { .name = "differential: random formats" };
	unsigned long n;

	for (n = 0; n < nr_random_formats; n++) {
		struct bkey_format f;

		random_format(&f);
		check_format(&tc, &f, want_code);
	}
	printf("# random: %lu formats\n", nr_random_formats);
	tc_end(&tc);
}

/* Every reason bcachefs refuses a format for, and no code for any. */
static void test_refusals(void)
{
	struct test_case tc = { .name = "refusals" };
	struct bkey_format good = { .bits_per_field = { 20, 30, 0, 10, 0, 0 } };
	static const struct {
		int field;		/* -1: whole-format edit */
		unsigned int bits;
		u64 offset;
		int key_u64s_delta;
		int nr_fields;
		enum bkey_format_invalid why;
	} cases[] = {
		{ -1, 0, 0, 0, 5, BKEY_FORMAT_BAD_NR_FIELDS },
		{ -1, 0, 0, 0, 7, BKEY_FORMAT_BAD_NR_FIELDS },
		{ -1, 0, 0, 0, 0, BKEY_FORMAT_BAD_NR_FIELDS },
		{ 0, 65, 0, 0, 6, BKEY_FORMAT_FIELD_TOO_WIDE },
		{ 2, 33, 0, 0, 6, BKEY_FORMAT_FIELD_TOO_WIDE },
		{ 3, 255, 0, 0, 6, BKEY_FORMAT_FIELD_TOO_WIDE },
		{ 1, 64, 1, 0, 6, BKEY_FORMAT_FIELD_OFFSET_WIDE },
		{ 4, 32, 7, 0, 6, BKEY_FORMAT_FIELD_OFFSET_WIDE },
		{ 2, 1, U32_MAX, 0, 6, BKEY_FORMAT_FIELD_OVERFLOWS },
		{ 2, 0, (u64)U32_MAX + 1, 0, 6, BKEY_FORMAT_FIELD_OVERFLOWS },
		{ 0, 10, U64_MAX - 1022, 0, 6, BKEY_FORMAT_FIELD_OVERFLOWS },
		{ 5, 63, (1ULL << 63) + 1, 0, 6, BKEY_FORMAT_FIELD_OVERFLOWS },
		{ -1, 0, 0, 1, 6, BKEY_FORMAT_BAD_KEY_U64S },
		{ -1, 0, 0, -1, 6, BKEY_FORMAT_BAD_KEY_U64S },
		{ -1, 0, 0, 200, 6, BKEY_FORMAT_BAD_KEY_U64S },
	};
	struct bkey_jit_stats before, after;
	unsigned int i;

	ref_format_finish(&good);
	tc_check(&tc, bkey_format_validate(&good, NULL, 0) == 0, "good refused");
	bkey_jit_get_stats(&before);

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct bkey_format f = good;
		struct bkey_plan plan;
		struct bkey_jit *j;
		char err[160] = "";
		int ret;

		if (cases[i].field >= 0) {
			f.bits_per_field[cases[i].field] = cases[i].bits;
			f.field_offset[cases[i].field] = cases[i].offset;
			ref_format_finish(&f);
		}
		f.key_u64s += cases[i].key_u64s_delta;
		f.nr_fields = cases[i].nr_fields;

		ret = bkey_format_validate(&f, err, sizeof(err));
		tc_check(&tc, ret == -(int)cases[i].why,
			 "case %u: got %d want %d (%s)", i, ret, -(int)cases[i].why, err);
		tc_check(&tc, strlen(err) > 10, "case %u: no reason given", i);
		tc_check(&tc, bkey_plan_build(&f, BKEY_PLAN_UNPACK, &plan) < 0,
			 "case %u: plan built for a refused format", i);
		j = bkey_jit_get(&f);
		tc_check(&tc, IS_ERR(j) && PTR_ERR(j) == -EINVAL,
			 "case %u: bkey_jit_get did not refuse", i);
		printf("# refused: %s\n", err);
	}
	bkey_jit_get_stats(&after);
	tc_check(&tc, after.invalid_formats - before.invalid_formats == ARRAY_SIZE(cases),
		 "invalid_formats counted %ld", after.invalid_formats - before.invalid_formats);
	tc_check(&tc, after.compiles == before.compiles, "code compiled for a refused format");
	tc_end(&tc);
}

static void check_some_keys(struct test_case *tc, struct bkey_jit *j, unsigned int n)
{
	struct bkey_packed k __aligned(8);

	while (n--) {
		key_random(&j->format, &k);
		check_key(tc, j, &k);
	}
}

/* Modes, allocation failure, the cap and malformed keys: same bytes. */
static void test_fallback(void)
{
	struct test_case tc = { .name = "fallback" };
	struct bkey_format f = { .bits_per_field = { 13, 41, 7, 16, 0, 3 } };
	struct bkey_jit_stats s0, s1;
	struct bkey_packed k __aligned(8);
	struct bkey out;
	struct bkey_jit *j;

	ref_format_finish(&f);
	f.field_offset[0] = 77;

	bkey_jit_get_stats(&s0);
	bkey_jit_set_mode(BKEY_JIT_MODE_OFF);
	j = bkey_jit_get(&f);
	check_some_keys(&tc, j, 100);
	bkey_jit_set_mode(BKEY_JIT_MODE_VERIFY);
	check_some_keys(&tc, j, 100);
	bkey_jit_set_mode(BKEY_JIT_MODE_ON);
	bkey_jit_get_stats(&s1);
	if (bkey_jit_arch_name)
		tc_check(&tc, s1.jit_unpacks - s0.jit_unpacks == 200,
			 "verify counted %ld jit unpacks", s1.jit_unpacks - s0.jit_unpacks);
	tc_check(&tc, s1.verify_mismatches == 0, "verify mismatches");
	/* mode off counts the get, not the keys; verify counts each unpack
	 * (100 keys, full and position) */
	tc_check(&tc, s1.fallbacks[BKEY_JIT_FALLBACK_MODE_OFF] -
		 s0.fallbacks[BKEY_JIT_FALLBACK_MODE_OFF] == 1,
		 "mode off counted %ld", s1.fallbacks[BKEY_JIT_FALLBACK_MODE_OFF] -
		 s0.fallbacks[BKEY_JIT_FALLBACK_MODE_OFF]);
	tc_check(&tc, s1.generic_unpacks - s0.generic_unpacks == 200,
		 "verify counted %ld generic unpacks", s1.generic_unpacks - s0.generic_unpacks);

	/* A key shorter than its format, or with a non-local format. */
	key_random(&f, &k);
	k.u64s = f.key_u64s - 1;
	tc_check(&tc, bkey_jit_unpack_checked(j, &out, &k) == -EINVAL, "short key");
	k.u64s = f.key_u64s;
	k.format = 0;
	tc_check(&tc, bkey_jit_unpack_checked(j, &out, &k) == 0, "good key");
	k.format = 1;
	tc_check(&tc, bkey_jit_unpack_checked(j, &out, &k) == -EINVAL, "packed-format key");
	bkey_jit_put(j);

	/* Injected allocation failure: generic, correct, counted. */
	f.field_offset[0] = 78;
	bkey_jit_get_stats(&s0);
	vmalloc_exec_fail_next(1);
	j = bkey_jit_get(&f);
	tc_check(&tc, !IS_ERR(j) && !j->unpack, "code despite allocation failure");
	if (bkey_jit_arch_name)
		tc_check(&tc, j->fallback == BKEY_JIT_FALLBACK_NOMEM, "reason %u", j->fallback);
	check_some_keys(&tc, j, 100);
	bkey_jit_put(j);

	/* The cap: nothing fits in 16 bytes. */
	f.field_offset[0] = 79;
	bkey_jit_set_code_cap(16);
	j = bkey_jit_get(&f);
	tc_check(&tc, !j->unpack, "code despite the cap");
	if (bkey_jit_arch_name)
		tc_check(&tc, j->fallback == BKEY_JIT_FALLBACK_CAP, "reason %u", j->fallback);
	check_some_keys(&tc, j, 100);
	bkey_jit_put(j);
	bkey_jit_set_code_cap(0);
	bkey_jit_get_stats(&s1);
	if (bkey_jit_arch_name)
		tc_check(&tc, s1.fallbacks[BKEY_JIT_FALLBACK_NOMEM] > s0.fallbacks[BKEY_JIT_FALLBACK_NOMEM] &&
			 s1.fallbacks[BKEY_JIT_FALLBACK_CAP] > s0.fallbacks[BKEY_JIT_FALLBACK_CAP],
			 "fallback reasons not counted");

	/* The placeholder unpacks the current format. */
	j = bkey_jit_generic();
	check_some_keys(&tc, j, 100);
	bkey_jit_put(j);
	tc_end(&tc);
}

/*
 * Mode off compiles nothing: a format got then stays pending on the
 * generic unpack, and is compiled once the mode leaves off (queued by the
 * mode change), exactly once.
 */
static void test_mode_off_defers(void)
{
	struct test_case tc = { .name = "mode off defers compiles" };
	struct bkey_format f = { .bits_per_field = { 19, 37, 5, 9, 0, 11 } };
	struct bkey_jit_stats s0, s1;
	struct bkey_jit *a, *b;

	ref_format_finish(&f);
	f.field_offset[1] = 0x0ff0ff;

	bkey_jit_get_stats(&s0);
	bkey_jit_set_mode(BKEY_JIT_MODE_OFF);
	a = bkey_jit_get(&f);
	b = bkey_jit_get(&f);
	bkey_jit_wait_compiled();
	bkey_jit_get_stats(&s1);
	tc_check(&tc, a == b, "one entry");
	tc_check(&tc, s1.compiles == s0.compiles, "mode off compiled %ld",
		 s1.compiles - s0.compiles);
	tc_check(&tc, !a->unpack && !a->unpack_pos && !a->cmp, "code in mode off");
	tc_check(&tc, a->fallback == BKEY_JIT_FALLBACK_PENDING, "reason %u", a->fallback);
	check_some_keys(&tc, a, 50);

	/* Leaving mode off queues it; a get in the new mode must not again. */
	bkey_jit_set_mode(BKEY_JIT_MODE_VERIFY);
	bkey_jit_put(bkey_jit_get(&f));
	bkey_jit_wait_compiled();
	bkey_jit_get_stats(&s1);
	if (bkey_jit_arch_name) {
		tc_check(&tc, s1.compiles - s0.compiles == 1, "compiled %ld times",
			 s1.compiles - s0.compiles);
		tc_check(&tc, a->unpack && a->fallback == BKEY_JIT_FALLBACK_NONE,
			 "no code after mode off (reason %u)", a->fallback);
	}
	check_some_keys(&tc, a, 50);
	bkey_jit_set_mode(BKEY_JIT_MODE_ON);
	bkey_jit_put(b);
	bkey_jit_put(a);
	tc_end(&tc);
}

/* Cache: dedup and refcounts, and the allocator's accounting. */
static void test_cache(void)
{
	struct test_case tc = { .name = "cache dedup and refcount" };
	struct bkey_format f = { .bits_per_field = { 3, 5, 7, 11, 13, 17 } };
	struct bkey_jit *a, *b;
	struct bkey_jit_stats s;
	struct vmalloc_exec_stats v;

	ref_format_finish(&f);
	a = bkey_jit_get(&f);
	b = bkey_jit_get(&f);
	tc_check(&tc, a == b, "same format, two unpackers");
	f.field_offset[1] = 1;
	b = bkey_jit_get(&f);
	tc_check(&tc, a != b, "different formats share an unpacker");
	bkey_jit_put(b);
	bkey_jit_put(a);
	bkey_jit_get_stats(&s);
	tc_check(&tc, s.formats == 1, "formats %ld after puts", s.formats);
	bkey_jit_put(a);
	bkey_jit_get_stats(&s);
	vmalloc_exec_get_stats(&v);
	tc_check(&tc, s.formats == 0 && s.code_bytes == 0, "leak: %ld formats %ld bytes",
		 s.formats, s.code_bytes);
	tc_check(&tc, v.bytes_used == 0 && v.allocs == v.frees,
		 "allocator leak: %lu bytes, %lu allocs %lu frees", v.bytes_used,
		 v.allocs, v.frees);
	tc_end(&tc);
}

/* No mapping of this process is ever writable and executable. */
static bool no_wx_mappings(void)
{
	FILE *m = fopen("/proc/self/maps", "r");
	char line[512];
	bool ok = true;

	if (!m)
		return false;
	while (fgets(line, sizeof(line), m)) {
		char perms[8];

		if (sscanf(line, "%*s %7s", perms) == 1 &&
		    perms[1] == 'w' && perms[2] == 'x')
			ok = false;
	}
	fclose(m);
	return ok;
}

static void test_allocator(void)
{
	struct test_case tc = { .name = "allocator W^X, trap fill, reuse" };
	static const u8 code[3] = { 1, 2, 3 };
	struct vmalloc_exec_stats st;
	u8 trap[16];
	u8 *a, *b, *c;

	bkey_jit_arch_fill_trap(trap, sizeof(trap));
	a = vmalloc_exec_alloc(40);
	b = vmalloc_exec_alloc(40);
	tc_check(&tc, a && b && (unsigned long)a % VMALLOC_EXEC_ALIGN == 0, "alloc");
	tc_check(&tc, ((unsigned long)a ^ (unsigned long)b) < 4096, "two pieces, one page");
	tc_check(&tc, !memcmp(a, trap, 16), "fresh space is not trap-filled");
	tc_check(&tc, no_wx_mappings(), "a W+X mapping exists");
	tc_check(&tc, vmalloc_exec_write(a, code, 3) == 0 && !memcmp(a, code, 3), "write");
	tc_check(&tc, vmalloc_exec_write(a + 40, code, 16) == -EINVAL, "write past the piece");
	tc_check(&tc, vmalloc_exec_write(trap, code, 1) == -EINVAL, "write outside");
	tc_check(&tc, no_wx_mappings(), "a W+X mapping exists after a write");
	vmalloc_exec_free(a);
	tc_check(&tc, !memcmp(b - 48, trap, 16) || !memcmp(a, trap, 16), "freed space not trapped");
	c = vmalloc_exec_alloc(40);
	tc_check(&tc, c == a, "freed space not reused");
	vmalloc_exec_set_cap(64);
	tc_check(&tc, PTR_ERR(vmalloc_exec_alloc(40)) == -ENOSPC, "cap not enforced");
	vmalloc_exec_set_cap(0);
	vmalloc_exec_free(b);
	vmalloc_exec_free(c);
	vmalloc_exec_get_stats(&st);
	tc_check(&tc, st.bytes_used == 0 && st.allocs == st.frees, "leak");
	tc_end(&tc);
}

/*
 * Packs: pieces are packed first fit, a pack emptied while another empty
 * one is kept is released, and alloc/free churn maps nothing new.
 */
static void test_allocator_packs(void)
{
	struct test_case tc = { .name = "allocator packs and hysteresis" };
	struct vmalloc_exec_stats st0, st;
	unsigned long pack = 0, grew = 0, prev;
	static u8 *p[1024];
	unsigned int n = 0, i;

	vmalloc_exec_get_stats(&st0);
	tc_check(&tc, st0.bytes_used == 0, "%lu bytes in use at start", st0.bytes_used);
	prev = st0.bytes_exec;
	/* Fill until two new packs were mapped. */
	while (n < ARRAY_SIZE(p) && grew < 2) {
		p[n] = vmalloc_exec_alloc(4096);
		if (!p[n])
			break;
		vmalloc_exec_get_stats(&st);
		if (st.bytes_exec > prev) {
			pack = pack ? pack : st.bytes_exec - prev;
			grew++;
		}
		prev = st.bytes_exec;
		n++;
	}
	tc_check(&tc, grew == 2 && pack >= 4096, "no second pack after %u pieces", n);
	tc_check(&tc, n > 2 && p[1] == p[0] + 4096, "pieces not packed first fit");
	tc_check(&tc, st.pages * 4096 == st.bytes_exec || st.pages * 16384 == st.bytes_exec ||
		 st.pages * 65536 == st.bytes_exec, "pages and bytes_exec disagree");
	tc_check(&tc, st.bytes_exec <= st.bytes_used + pack,
		 "%lu executable bytes for %lu used", st.bytes_exec, st.bytes_used);
	for (i = 0; i < n; i++)
		vmalloc_exec_free(p[i]);
	vmalloc_exec_get_stats(&st);
	tc_check(&tc, st.bytes_used == 0, "%lu bytes in use after frees", st.bytes_used);
	tc_check(&tc, st.bytes_exec == pack, "%lu executable bytes kept, want one pack (%lu)",
		 st.bytes_exec, pack);

	/* Churn: the kept pack serves it, nothing is mapped or released. */
	for (i = 0; i < 1000; i++) {
		u8 *a = vmalloc_exec_alloc(48 + i % 200);

		tc_check(&tc, a && (i == 0 || a == p[0]), "churn: alloc %u at %p", i, a);
		p[0] = a;
		vmalloc_exec_free(a);
	}
	vmalloc_exec_get_stats(&st);
	tc_check(&tc, st.bytes_exec == pack && st.bytes_used == 0,
		 "churn: %lu executable bytes, %lu used", st.bytes_exec, st.bytes_used);

	/* The cap counts every piece not yet freed. */
	p[0] = vmalloc_exec_alloc(48);
	vmalloc_exec_set_cap(96);
	p[1] = vmalloc_exec_alloc(48);
	tc_check(&tc, !IS_ERR_OR_NULL(p[0]) && !IS_ERR_OR_NULL(p[1]) &&
		 PTR_ERR(vmalloc_exec_alloc(16)) == -ENOSPC, "cap: third piece allowed");
	vmalloc_exec_free(p[1]);
	p[1] = vmalloc_exec_alloc(48);
	tc_check(&tc, p[1] != NULL, "cap: freed space not counted back");
	vmalloc_exec_set_cap(0);
	vmalloc_exec_free(p[0]);
	vmalloc_exec_free(p[1]);
	tc_end(&tc);
}

/* Eight threads get, unpack and put a small pool of formats at once. */
#define NR_THREADS	8
static struct bkey_format pool[16];

static void *cache_thread(void *arg)
{
	struct test_case *tc = arg;
	struct test_case local = { .name = tc->name };
	struct bkey_packed k __aligned(8);
	unsigned int i, n;

	for (i = 0; i < 3000; i++) {
		struct bkey_jit *j = bkey_jit_get(&pool[(i * 7 + (unsigned long)pthread_self()) % 16]);
		struct bkey a, c;

		for (n = 0; n < 8; n++) {
			memset(&k, i + n, sizeof(k));
			bkey_jit_unpack(j, &a, &k);
			ref_unpack_bits(&j->format, &k, &c);
			local.checks++;
			if (memcmp(&a, &c, 40))
				local.failures++;
		}
		bkey_jit_put(j);
	}
	__atomic_add_fetch(&tc->checks, local.checks, __ATOMIC_RELAXED);
	__atomic_add_fetch(&tc->failures, local.failures, __ATOMIC_RELAXED);
	return NULL;
}

static void test_concurrency(void)
{
	struct test_case tc = { .name = "cache concurrency (8 threads)" };
	pthread_t t[NR_THREADS];
	struct bkey_jit_stats s;
	unsigned int i;

	for (i = 0; i < 16; i++)
		random_format(&pool[i]);
	for (i = 0; i < NR_THREADS; i++)
		pthread_create(&t[i], NULL, cache_thread, &tc);
	for (i = 0; i < NR_THREADS; i++)
		pthread_join(t[i], NULL);
	bkey_jit_get_stats(&s);
	tc_check(&tc, s.formats == 0, "leaked %ld formats", s.formats);
	tc_end(&tc);
}

/* Security options through the whole pipeline. */
static void test_options(void)
{
	struct test_case tc = { .name = "emitter options through the cache" };
	struct bkey_jit_emit_opts o;
	unsigned int mode;

	for (mode = 0; mode < 16; mode++) {
		struct bkey_format f;
		struct bkey_jit *j;

		memset(&o, 0, sizeof(o));
		o.endbr = mode & 1;
		o.bti = mode & 1;
		o.cfi = mode & 2;
		o.cfi_padding = mode & 4;
		o.cfi_hash = 0x12345678 + mode;
		bkey_jit_set_emit_opts(&o);
		random_format(&f);
		j = bkey_jit_get(&f);
		check_some_keys(&tc, j, 200);
		bkey_jit_put(j);
	}
	memset(&o, 0, sizeof(o));
	bkey_jit_set_emit_opts(&o);
	tc_end(&tc);
}

struct backend_probe {
	const struct bkey_jit	*j;
	struct bkey_jit_info	info;
	bool			found;
};

static void backend_find(const struct bkey_jit *j, const struct bkey_jit_info *info,
			 void *arg)
{
	struct backend_probe *p = arg;

	if (j == p->j) {
		p->info = *info;
		p->found = true;
	}
}

/* Get @f with the backend @b chosen, check keys, report what compiled it. */
static struct bkey_jit *backend_get(struct test_case *tc, const struct bkey_format *f,
				    enum bkey_jit_backend_choice b,
				    struct backend_probe *probe)
{
	struct bkey_jit *j;

	bkey_jit_set_backend(b);
	j = bkey_jit_get(f);
	bkey_jit_set_backend(BKEY_JIT_BACKEND_AUTO);
	tc_check(tc, !IS_ERR(j), "%s: format refused", bkey_jit_backend_names[b]);
	if (IS_ERR(j))
		return NULL;
	check_some_keys(tc, j, 64);
	memset(probe, 0, sizeof(*probe));
	probe->j = j;
	bkey_jit_for_each(backend_find, probe);
	tc_check(tc, probe->found, "%s: unpacker not listed", bkey_jit_backend_names[b]);
	return j;
}

/*
 * Backend selection through the cache: bkey_jit.backend=ebpf compiles
 * every new format to eBPF (run here by the test interpreter) and the
 * unpackers say so; verify mode compares it with the generic unpack;
 * generic compiles nothing, with its own fallback reason; native is
 * native. Freed programs give their bytes back.
 */
static void test_backends(void)
{
	struct test_case tc = { .name = "backend selection (auto, ebpf, generic, native)" };
	struct bkey_jit_stats s0, s1;
	struct backend_probe probe;
	struct bkey_format f;
	struct bkey_jit *j;
	unsigned int i, ebpf = 0;

	bkey_jit_get_stats(&s0);
	for (i = 0; i < 200; i++) {
		random_format(&f);
		j = backend_get(&tc, &f, BKEY_JIT_BACKEND_EBPF, &probe);
		if (!j)
			continue;
		tc_check(&tc, !j->unpack && !j->unpack_pos, "ebpf: native code published");
		tc_check(&tc, j->fallback == BKEY_JIT_FALLBACK_NONE, "ebpf: fallback %u",
			 j->fallback);
		tc_check(&tc, probe.found && !strcmp(probe.info.backend, "ebpf") &&
			 probe.info.unpack_insns > 2 && probe.info.pos_insns > 2,
			 "ebpf: listed as %s, %u/%u insns", probe.info.backend,
			 probe.info.unpack_insns, probe.info.pos_insns);
		ebpf += probe.found && !strcmp(probe.info.backend, "ebpf");
		bkey_jit_set_mode(BKEY_JIT_MODE_VERIFY);
		check_some_keys(&tc, j, 16);
		bkey_jit_set_mode(BKEY_JIT_MODE_ON);
		bkey_jit_put(j);
	}
	bkey_jit_get_stats(&s1);
	tc_check(&tc, s1.jit_unpacks - s0.jit_unpacks == 200 * 16 * 2,
		 "verify ran %ld eBPF unpacks", s1.jit_unpacks - s0.jit_unpacks);
	tc_check(&tc, s1.verify_mismatches == s0.verify_mismatches, "verify mismatches");
	tc_check(&tc, s1.compiles - s0.compiles == 200, "%ld compiles",
		 s1.compiles - s0.compiles);

	random_format(&f);
	j = backend_get(&tc, &f, BKEY_JIT_BACKEND_GENERIC, &probe);
	tc_check(&tc, j && !j->unpack && j->fallback == BKEY_JIT_FALLBACK_BACKEND &&
		 !strcmp(probe.info.backend, "generic"), "generic: compiled or misreported");
	bkey_jit_put(j);

	random_format(&f);
	j = backend_get(&tc, &f, BKEY_JIT_BACKEND_NATIVE, &probe);
	if (bkey_jit_arch_name)
		tc_check(&tc, j && j->unpack && !strcmp(probe.info.backend, bkey_jit_arch_name),
			 "native: not native");
	bkey_jit_put(j);

	/* auto: native where there is a native backend, else eBPF */
	random_format(&f);
	j = backend_get(&tc, &f, BKEY_JIT_BACKEND_AUTO, &probe);
	tc_check(&tc, j && !strcmp(probe.info.backend, bkey_jit_arch_name ?: "ebpf"),
		 "auto chose %s", probe.info.backend);
	bkey_jit_put(j);

	bkey_jit_flush();
	bkey_jit_get_stats(&s1);
	tc_check(&tc, s1.formats == 0 && s1.code_bytes == 0, "leak: %ld formats, %ld bytes",
		 s1.formats, s1.code_bytes);
	printf("# backends: %u formats compiled to eBPF through the cache\n", ebpf);
	tc_end(&tc);
}

struct blind_stats {
	unsigned long	formats, functions, found, ebpf_found;
};

/*
 * The immediates a BPF JIT copies into machine code: each imm32, and the
 * 64-bit value of an LD_IMM64. Count where pattern @p occurs in them.
 */
static unsigned int ebpf_scan_imms(const struct bpf_insn *insns, unsigned int len,
				   const struct blind_pattern *p)
{
	unsigned int i, n = 0;

	if (!p->scanned)
		return 0;
	for (i = 0; i < len; i++) {
		u8 v[8];

		memcpy(v, &insns[i].imm, 4);
		if (insns[i].code == (BPF_LD | BPF_DW | BPF_IMM) && i + 1 < len) {
			memcpy(v + 4, &insns[++i].imm, 4);
			n += blind_count(v, 8, p->b, NULL, 0);
		} else {
			n += blind_count(v, 4, p->b, NULL, 0);
		}
	}
	return n;
}

static unsigned int ebpf_scan_format(const struct bkey_format *f,
				     const struct blind_pattern *p)
{
	static struct ebpf_progs progs;
	unsigned int v, kind, n = 0;

	if (!ebpf_lower_format(f, &progs))
		return 0;
	for (v = 0; v < EBPF_NR_VARIANTS; v++)
		for (kind = 0; kind < 2; kind++)
			n += ebpf_scan_imms(progs.insns[v][kind], progs.len[v][kind], p);
	return n;
}

/* Compile @f through the cache, check keys, scan the code for @p. */
static void blind_one(struct test_case *tc, const struct bkey_format *f,
		      const struct blind_pattern *p, struct blind_stats *st)
{
	struct bkey_jit *j = bkey_jit_get(f);
	struct blind_code c = { .j = j };
	unsigned int hits;

	tc_check(tc, !IS_ERR(j) && j->unpack && j->unpack_pos && j->cmp,
		 "%s: no code", p->name);
	if (IS_ERR(j))
		return;
	check_some_keys(tc, j, 16);
	bkey_jit_for_each(blind_find_code, &c);
	tc_check(tc, !!c.code, "%s: code not listed", p->name);
	hits = c.code ? blind_scan(c.code, c.len, c.entry, p) : 0;
	st->formats++;
	st->functions += BLIND_NR_ENTRIES;
	st->found += hits;
	st->ebpf_found += ebpf_scan_format(f, p);
	if (hits && bkey_jit_blinding_enabled()) {
		char buf[256];

		bkey_jit_format_to_text(buf, sizeof(buf), f);
		tc_check(tc, 0, "%s found in the code of %s", p->name, buf);
	}
	bkey_jit_put(j);
	if (dump_file)
		dump_code(f);
}

/* Every pattern at every byte position of every field, in 3 variants. */
static void blind_sweep(struct test_case *tc, const struct blind_pattern *pats,
			unsigned int nr, struct blind_stats *st)
{
	unsigned int pi, n;

	for (pi = 0; pi < nr; pi++)
		for (n = 0; n < BLIND_NR_PLANTS; n++) {
			struct bkey_format f;

			if (blind_plant_nth(&f, &pats[pi], n, rng64()))
				blind_one(tc, &f, &pats[pi], st);
		}
}

/*
 * Constant blinding: formats whose offsets carry chosen byte patterns
 * compile to code where no planted 4-byte pattern appears and ENDBR only
 * at the entries, with and without the security options; and, as the
 * control that the scan can fail, the same formats unblinded do show them.
 */
static void test_blinding(void)
{
	struct test_case tc = { .name = "blinding: adversarial formats scanned" };
	struct blind_pattern pats[ARRAY_SIZE(blind_fixed_patterns) + 8];
	struct bkey_jit_emit_opts o = { 0 };
	struct blind_stats st = { 0 }, plain = { 0 };
	unsigned int i, opt;

	memcpy(pats, blind_fixed_patterns, sizeof(blind_fixed_patterns));
	for (i = ARRAY_SIZE(blind_fixed_patterns); i < ARRAY_SIZE(pats); i++)
		blind_random_pattern(&pats[i], rng64());

	for (opt = 0; opt < 2; opt++) {
		o.endbr = o.bti = o.cfi = o.cfi_padding = opt;
		o.cfi_hash = 0x5a5a1234;
		bkey_jit_set_emit_opts(&o);
		blind_sweep(&tc, pats, ARRAY_SIZE(pats), &st);
	}

	bkey_jit_user_set_blinding(false);
	blind_sweep(&tc, pats, ARRAY_SIZE(pats), &plain);
	bkey_jit_user_set_blinding(true);
	memset(&o, 0, sizeof(o));
	bkey_jit_set_emit_opts(&o);

	tc_check(&tc, st.found == 0, "%lu planted patterns found", st.found);
	tc_check(&tc, st.ebpf_found == 0, "%lu planted patterns in eBPF immediates",
		 st.ebpf_found);
	tc_check(&tc, plain.ebpf_found > 0, "control: no pattern in unblinded eBPF");
	printf("# blinding scan, eBPF immediates (both variants): %lu found"
	       " (control without blinding: %lu)\n", st.ebpf_found, plain.ebpf_found);
	/* The control: unblinded x86 code carries them (arm64 words differ). */
	if (bkey_jit_arch_name && !strcmp(bkey_jit_arch_name, "x86-64"))
		tc_check(&tc, plain.found > 0, "control: scan found nothing unblinded");
	printf("# blinding scan: %lu formats, %lu functions scanned, patterns found: %lu"
	       " (control without blinding: %lu found in %lu functions)\n",
	       st.formats, st.functions, st.found, plain.found, plain.functions);
	tc_end(&tc);
}

/*
 * The eBPF lowering goes through the shared driver: malformed plans are
 * refused, and a plan too long for BKEY_JIT_BPF_MAX_INSNS is refused
 * without a write past it.
 */
static void test_ebpf_limits(void)
{
	struct test_case tc = { .name = "eBPF lowering: refusals and bounds" };
	static struct bpf_insn buf[BKEY_JIT_BPF_MAX_INSNS + 8];
	struct bkey_plan p = { .kind = BKEY_PLAN_UNPACK };
	unsigned int i, len = 7, nr = 7;

	tc_check(&tc, bkey_jit_bpf_lower(&p, &ebpf_caps[0], buf, &len, &nr) == -EINVAL,
		 "empty plan lowered");
	p.ops[0].code = BKEY_PLAN_STORE_IMM;
	p.ops[0].size = 4;
	p.nr_ops = 1;
	tc_check(&tc, bkey_jit_bpf_lower(&p, &ebpf_caps[0], buf, &len, &nr) == -EINVAL,
		 "plan without RET lowered");
	p.ops[0].code = BKEY_PLAN_FUNNEL;
	p.ops[0].reg = p.ops[0].reg2 = 1;
	p.ops[0].shift = 8;
	p.ops[0].width = 64;
	p.ops[0].size = 8;
	p.ops[1].code = BKEY_PLAN_RET;
	p.nr_ops = 2;
	tc_check(&tc, bkey_jit_bpf_lower(&p, &ebpf_caps[0], buf, &len, &nr) == -EINVAL,
		 "funnel reg2 == reg lowered");
	tc_check(&tc, len == 7 && nr == 7, "outputs written on error");

	/* Every op a blinded 64-bit store: four slots each, too many. */
	memset(buf, 0x5a, sizeof(buf));
	for (i = 0; i < BKEY_PLAN_MAX_OPS - 1; i++) {
		p.ops[i] = (struct bkey_plan_op) {
			.code = BKEY_PLAN_STORE_IMM, .size = 8, .off = 8 * (i % 5),
			.blind = BKEY_PLAN_BLIND_MUL, .key = 3, .imm = 0x123456789abcdefULL,
		};
	}
	p.ops[i].code = BKEY_PLAN_RET;
	p.nr_ops = i + 1;
	tc_check(&tc, bkey_jit_bpf_lower(&p, &ebpf_caps[0], buf, &len, &nr) == -EINVAL,
		 "over-long program lowered");
	for (i = BKEY_JIT_BPF_MAX_INSNS * 8; i < sizeof(buf); i++)
		if (((u8 *)buf)[i] != 0x5a)
			break;
	tc_check(&tc, i == sizeof(buf), "wrote past BKEY_JIT_BPF_MAX_INSNS");
	tc_end(&tc);
}

/* The eBPF differential's counts, and its own pass/fail line. */
static void ebpf_report(void)
{
	static const char *const kinds[2] = { "full", "pos" };
	unsigned int v, kind;

	tc_check(&ebpf_tc, ebpf_programs > 0 && ebpf_runs[EBPF_ALIGNED] > 0,
		 "no eBPF program ran");
	/* The aligned variant must really differ somewhere. */
	tc_check(&ebpf_tc, ebpf_differ > 0, "aligned and unaligned lowering never differ");
	printf("# ebpf: %lu programs lowered (%lu immediates checked against the plan),"
	       " %lu plans where the aligned-loads variant differs;"
	       " %lu runs unaligned, %lu runs aligned-loads (strict alignment)\n",
	       ebpf_programs, ebpf_imm_checks, ebpf_differ, ebpf_runs[EBPF_UNALIGNED],
	       ebpf_runs[EBPF_ALIGNED]);
	printf("# ebpf instructions executed per key:");
	for (v = 0; v < EBPF_NR_VARIANTS; v++)
		for (kind = 0; kind < 2; kind++)
			printf(" %s %s %.2f%s", v == EBPF_ALIGNED ? "aligned" : "unaligned",
			       kinds[kind], ebpf_exec_runs[v][kind] ?
			       (double)ebpf_executed[v][kind] / ebpf_exec_runs[v][kind] : 0.0,
			       v + kind < 2 ? "," : "\n");
	if (bkey_jit_arch_name) {
		printf("# ebpf/native instructions, worst format: full %.2f (%s), pos %.2f (%s)\n",
		       ebpf_worst_ratio[0], ebpf_worst_format[0], ebpf_worst_ratio[1],
		       ebpf_worst_format[1]);
		tc_check(&ebpf_tc, ebpf_worst_ratio[0] <= 2.0 && ebpf_worst_ratio[1] <= 2.0,
			 "eBPF more than twice the native instructions");
	}
	tc_end(&ebpf_tc);
}

/*
 * The compare, against 6.12's own __bkey_cmp_bits() (portable C, and the
 * x86-64 assembly on x86-64 hosts), the bit-by-bit reference, the order
 * of the unpacked positions, the generic C compare, the native code and
 * the eBPF program (interpreted, both alignment variants).
 */
static struct test_case cmp_tc = { .name = "differential: packed-key compare" };
static unsigned long cmp_pairs, cmp_ebpf_runs, cmp_ebpf_executed;

struct cmp_ebpf {
	struct bpf_insn	insns[EBPF_NR_VARIANTS][BKEY_JIT_BPF_MAX_INSNS];
	unsigned int	len[EBPF_NR_VARIANTS];
};

static bool cmp_ebpf_lower(const struct bkey_format *f, struct cmp_ebpf *e)
{
	struct bkey_plan plan;
	unsigned int v, insns;

	if (bkey_plan_build(f, BKEY_PLAN_CMP_PACKED, &plan))
		return false;
	bkey_plan_blind(&plan, rng64());
	for (v = 0; v < EBPF_NR_VARIANTS; v++) {
		int ret = bkey_jit_bpf_lower(&plan, &ebpf_caps[v], e->insns[v],
					     &e->len[v], &insns);

		tc_check(&cmp_tc, !ret, "compare lowering failed: %d", ret);
		if (ret)
			return false;
		ebpf_check_imms(&plan, e->insns[v], e->len[v]);
	}
	return true;
}

static int cmp_ebpf_run(const struct cmp_ebpf *e, unsigned int v,
			const struct bkey_format *f, const struct bkey_packed *l,
			const struct bkey_packed *r)
{
	struct bkey_jit_bpf_ctx ctx = { .dst = (void *)l, .src = r };
	struct ebpf_vm vm = {
		.regions = {
			{ &ctx, sizeof(ctx), false },
			{ l, 8 * f->key_u64s, false },
			{ r, 8 * f->key_u64s, false },
		},
		.nr_regions	= 3,
		.strict_align	= v == EBPF_ALIGNED,
		.want_r0	= true,
	};
	u64 r0 = 0x5a5a;

	if (ebpf_run(&vm, e->insns[v], e->len[v], (u64)(unsigned long)&ctx, &r0)) {
		tc_check(&cmp_tc, 0, "compare program stopped: %s", vm.err);
		return 2;
	}
	cmp_ebpf_runs++;
	cmp_ebpf_executed += vm.executed;
	return (int)r0;
}

static int bpos_order(const struct bpos *a, const struct bpos *b)
{
	if (a->inode != b->inode)
		return a->inode < b->inode ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	if (a->snapshot != b->snapshot)
		return a->snapshot < b->snapshot ? -1 : 1;
	return 0;
}

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

static void cmp_check_pair(struct bkey_jit *j, const struct cmp_ebpf *e,
			   bool ebpf, bool want_code,
			   const struct bkey_packed *l, const struct bkey_packed *r,
			   int want)
{
	const struct bkey_format *f = &j->format;
	unsigned int bits = bkey_jit_cmp_key_bits(f), v;
	const u64 *hl = (const u64 *)l + f->key_u64s - 1;
	const u64 *hr = (const u64 *)r + f->key_u64s - 1;
	int ref = ref_cmp_bits(f, l, r), got;
	struct bpos pl, pr;
	char buf[256];

	cmp_pairs++;
	if (want != 2 && ref != want) {
		bkey_jit_format_to_text(buf, sizeof(buf), f);
		tc_check(&cmp_tc, 0, "reference %d, expected %d: %s", ref, want, buf);
	}
	got = sign(bch612_cmp_bits_c(hl, hr, bits));
	tc_check(&cmp_tc, got == ref, "6.12 C %d, reference %d", got, ref);
#ifdef HAVE_BCH612_CMP_BITS_X86
	got = sign(bch612_cmp_bits_x86(hl, hr, bits));
	tc_check(&cmp_tc, got == ref, "6.12 x86 asm %d, reference %d", got, ref);
#endif
	bkey_jit_unpack_pos_generic(j, &pl, l);
	bkey_jit_unpack_pos_generic(j, &pr, r);
	got = bpos_order(&pl, &pr);
	tc_check(&cmp_tc, got == ref, "unpacked positions %d, reference %d", got, ref);
	got = bkey_jit_cmp_packed_generic(j, l, r);
	tc_check(&cmp_tc, got == ref, "generic %d, reference %d", got, ref);
	got = bkey_jit_cmp_packed(j, l, r);
	tc_check(&cmp_tc, got == ref, "bkey_jit_cmp_packed %d, reference %d", got, ref);
	if (want_code && j->cmp) {
		got = j->cmp(l, r);
		if (got != ref) {
			bkey_jit_format_to_text(buf, sizeof(buf), f);
			tc_check(&cmp_tc, 0, "native %d, reference %d: %s", got, ref, buf);
		}
	}
	for (v = 0; ebpf && v < EBPF_NR_VARIANTS; v++) {
		got = cmp_ebpf_run(e, v, f, l, r);
		tc_check(&cmp_tc, got == ref, "eBPF (%s) %d, reference %d",
			 v ? "aligned" : "unaligned", got, ref);
	}
}

/*
 * Keys of @f: equal ones, one bit flipped at every bit of the key (above
 * the position's last bit it decides, below it must not), random bits
 * below the position only (equal), random pairs.
 */
static void cmp_check_format(const struct bkey_format *f, bool want_code,
			     unsigned int nr_random)
{
	struct bkey_packed l __aligned(8), r __aligned(8);
	struct bkey_jit *j = bkey_jit_get(f);
	static struct cmp_ebpf e;
	unsigned int bits, below, p, i;
	bool ebpf;

	if (IS_ERR(j)) {
		tc_check(&cmp_tc, 0, "valid format refused");
		return;
	}
	if (want_code)
		tc_check(&cmp_tc, !!j->cmp, "no compare code (fallback %u)",
			 j->fallback);
	ebpf = cmp_ebpf_lower(f, &e);
	bits = bkey_jit_cmp_key_bits(f);
	below = 64 * f->key_u64s - bits;

	key_random(f, &l);
	r = l;
	cmp_check_pair(j, &e, ebpf, want_code, &l, &r, 0);
	for (p = 0; p < 64 * f->key_u64s; p++) {
		unsigned int w = f->key_u64s - 1 - p / 64, bit = 63 - p % 64;
		u64 x;

		key_random(f, &l);
		r = l;
		memcpy(&x, (u8 *)&r + 8 * w, 8);
		x ^= 1ULL << bit;
		memcpy((u8 *)&r + 8 * w, &x, 8);
		/* r has the bit l lacks, or the other way round */
		cmp_check_pair(j, &e, ebpf, want_code, &l, &r,
			       p >= bits ? 0 : (x >> bit) & 1 ? -1 : 1);
	}
	for (i = 0; i < nr_random; i++) {
		key_random(f, &l);
		key_random(f, &r);
		cmp_check_pair(j, &e, ebpf, want_code, &l, &r, 2);
		/* Only the bits below the position differ: equal. */
		r = l;
		for (p = 0; p < below; p++) {
			unsigned int w = p / 64;
			u64 x;

			if (!(rng64() & 1))
				continue;
			memcpy(&x, (u8 *)&r + 8 * w, 8);
			x ^= 1ULL << (p % 64);
			memcpy((u8 *)&r + 8 * w, &x, 8);
		}
		cmp_check_pair(j, &e, ebpf, want_code, &l, &r, 0);
	}
	bkey_jit_put(j);
}

/*
 * Compare plans through the shared driver: the built ones validate and
 * encode on every backend; each way of breaking the compare rules (an
 * unpack op in a compare, a compare op in an unpack, L read by an unpack,
 * a narrow load, a CMP of a register with itself or out of range) is
 * refused by the driver, so by every backend.
 */
/*
 * The cache sizes every function, allocates, then runs the final pass
 * alone (bkey_jit_arch_emit_final()): it must write what the two-pass
 * bkey_jit_arch_emit() writes, and refuse a sizing result it does not
 * reproduce.
 */
/* Move a label the pass marked (unmarked ones are 0 and unused). */
static bool tamper_label(struct bkey_jit_emitted *e)
{
	unsigned int i;

	for (i = 0; i < BKEY_JIT_NR_LABELS; i++) {
		if (e->label[i]) {
			e->label[i] ^= 4;
			return true;
		}
	}
	return false;
}

static void test_emit_final(void)
{
	struct test_case tc = { .name = "final pass alone after sizing" };
	struct bkey_jit_emit_opts o = { 0 };
	u8 a[BKEY_JIT_MAX_CODE], b[BKEY_JIT_MAX_CODE];
	struct bkey_jit_emitted sized, out, bad;
	unsigned int n, kind, i, labels = 0;
	struct bkey_format f;
	struct bkey_plan plan;

	if (!bkey_jit_arch_name) {
		tc_end(&tc);
		return;
	}
	for (n = 0; n < 2000; n++) {
		random_format(&f);
		for (kind = 0; kind < BKEY_PLAN_NR_KINDS; kind++) {
			if (bkey_plan_build(&f, kind, &plan))
				continue;
			bkey_plan_blind(&plan, rng64());
			tc_check(&tc, !bkey_jit_arch_emit(&plan, &o, NULL, 0, &sized),
				 "sizing refused");
			tc_check(&tc, !bkey_jit_arch_emit(&plan, &o, a, (unsigned long)a,
							  &out), "two passes refused");
			tc_check(&tc, !bkey_jit_arch_emit_final(&plan, &o, b, (unsigned long)a,
								&sized),
				 "final pass refused");
			tc_check(&tc, out.len == sized.len && !memcmp(a, b, out.len),
				 "final pass alone wrote other bytes");
			for (i = 0; i < 3; i++) {
				bad = sized;
				if (i == 0)
					bad.len++;
				else if (i == 1)
					bad.nr_insns--;
				else if (!tamper_label(&bad))
					bad.entry += 1;
				tc_check(&tc, bkey_jit_arch_emit_final(&plan, &o, b, 0,
								       &bad) == -EINVAL,
					 "kind %u: a sizing result not reproduced was accepted (%u)",
					 kind, i);
				labels += i == 2 && bad.entry == sized.entry;
			}
		}
	}
	tc_check(&tc, labels > 1000, "only %u moved labels tried", labels);
	tc_end(&tc);
}

static void test_cmp_plans(void)
{
	struct test_case tc = { .name = "compare plans: validation through the driver" };
	static struct bpf_insn insns[BKEY_JIT_BPF_MAX_INSNS];
	struct bkey_format f;
	struct bkey_plan good, bad;
	struct bkey_jit_emitted out;
	unsigned int n, slots, nr, i;
	u8 buf[BKEY_JIT_MAX_CODE];

	for (n = 0; n < 2000; n++) {
		random_format(&f);
		tc_check(&tc, !bkey_plan_build(&f, BKEY_PLAN_CMP_PACKED, &good), "build");
		tc_check(&tc, !bkey_plan_validate(&good), "a built plan is refused");
		tc_check(&tc, good.nr_ops <= 3 * 5 + 1, "%u ops", good.nr_ops);
		if (bkey_jit_arch_name)
			tc_check(&tc, !bkey_jit_arch_emit(&good, NULL, buf,
							  (unsigned long)buf, &out) &&
				 out.nr_insns <= 3 * 6 + 6, "native emit");
		tc_check(&tc, !bkey_jit_bpf_lower(&good, &ebpf_caps[0], insns, &slots, &nr),
			 "eBPF lowering");
	}

	/* A three-word compare to break, and an unpack plan. */
	f = (struct bkey_format){ .bits_per_field = { 64, 64, 32, 0, 0, 0 } };
	ref_format_finish(&f);
	bkey_plan_build(&f, BKEY_PLAN_CMP_PACKED, &good);
	for (i = 0; i < 7; i++) {
		bad = good;
		switch (i) {
		case 0:		/* a store in a compare */
			bad.ops[0].code = BKEY_PLAN_STORE;
			break;
		case 1:		/* a compare op in an unpack */
			bad.kind = BKEY_PLAN_UNPACK_POS;
			break;
		case 2:		/* L read in an unpack plan */
			bkey_plan_build(&f, BKEY_PLAN_UNPACK_POS, &bad);
			bad.ops[0].arg = 1;
			break;
		case 3:		/* a 4-byte load in a compare */
			bad.ops[1].size = 4;
			break;
		case 4:		/* a register compared with itself */
			bad.ops[2].reg2 = bad.ops[2].reg;
			break;
		case 5:		/* out of range */
			bad.ops[2].reg2 = BKEY_PLAN_NR_REGS;
			break;
		default:	/* no such kind */
			bad.kind = BKEY_PLAN_NR_KINDS;
			break;
		}
		tc_check(&tc, bkey_plan_validate(&bad) == -EINVAL, "case %u accepted", i);
		tc_check(&tc, bkey_jit_arch_emit(&bad, NULL, buf, (unsigned long)buf,
						 &out) != 0, "case %u emitted", i);
		tc_check(&tc, bkey_jit_bpf_lower(&bad, &ebpf_caps[0], insns, &slots,
						 &nr) == -EINVAL, "case %u lowered", i);
	}
	tc_end(&tc);
}

static void test_cmp(bool want_code)
{
	unsigned int field, bits, pre, n, nr_formats = 0;
	unsigned long nr_rand = nr_random_formats / 20;

	/* Each position field at every width after 0..63 bits before it. */
	for (field = 0; field < 3; field++)
		for (bits = 0; bits <= ref_field_width(field); bits++)
			for (pre = 0; pre < (field ? 64 : 1); pre += 7) {
				struct bkey_format f;
				unsigned int i;

				field_after_bits(&f, field, bits, pre);
				for (i = field + 1; i < 6; i++)
					f.bits_per_field[i] = rng_below(ref_field_width(i) + 1);
				pick_offsets(&f);
				ref_format_finish(&f);
				cmp_check_format(&f, want_code, 4);
				nr_formats++;
			}
	for (n = 0; n < nr_rand; n++) {
		struct bkey_format f;

		random_format(&f);
		cmp_check_format(&f, want_code, 16);
		nr_formats++;
	}
	{
		struct bkey_format cur = { .bits_per_field = { 64, 64, 32, 32, 32, 64 } };
		struct bkey_format zero = { 0 };

		ref_format_finish(&cur);
		ref_format_finish(&zero);
		cmp_check_format(&cur, want_code, 64);
		cmp_check_format(&zero, want_code, 64);
		nr_formats += 2;
	}
	printf("# compare: %u formats, %lu key pairs, eBPF %.2f instructions per compare\n",
	       nr_formats, cmp_pairs,
	       cmp_ebpf_runs ? (double)cmp_ebpf_executed / cmp_ebpf_runs : 0.0);
	tc_end(&cmp_tc);
}

int main(int argc, char **argv)
{
	bool want_code;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--random") && i + 1 < argc)
			nr_random_formats = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--keys") && i + 1 < argc)
			keys_per_format = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			rng_state = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--dump") && i + 1 < argc)
			dump_file = fopen(argv[++i], "w");
	}
	want_code = bkey_jit_arch_name != NULL;
	/* Blinding keys reproduce with the seed too. */
	bkey_jit_user_set_random_seed(rng_state);
	printf("# bkey-jit userspace tests, backend %s, seed %#llx\n",
	       want_code ? bkey_jit_arch_name : "none (generic only)",
	       (unsigned long long)rng_state);

	test_refusals();
	test_allocator();
	test_allocator_packs();
	test_cache();
	test_fallback();
	test_emit_final();
	test_mode_off_defers();
	test_options();
	test_concurrency();
	test_backends();
	test_ebpf_limits();
	test_structured(want_code);
	test_random(want_code);
	test_cmp_plans();
	test_cmp(want_code);
	if (want_code)
		test_blinding();
	printf("# %lu key checks (JIT, generic, bcachefs algorithm, bit reference; full and position)\n",
	       key_checks);
	ebpf_report();
	return tests_summary();
}
