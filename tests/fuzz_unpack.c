// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: raw bytes are a struct bkey_format followed by a
 * packed key. A format the validator refuses must be refused everywhere
 * (no unpacker, no plan); for a valid one the JIT, the generic C unpack
 * and the bit-at-a-time reference must agree on every byte, and the
 * compiled code is scanned: ENDBR64/ENDBR32 only at the entries, however
 * the offsets carry them (constant blinding; the seed corpus plants them).
 * Other 4-byte patterns are checked by test_unpack, which knows what it
 * planted: here the fuzzer learns the JIT's own bytes from the scan's
 * comparisons and plants those, which no blinding can hide.
 * The eBPF backend is checked too: both plans, lowered for fast and for
 * aligned-only loads, run in the test interpreter, which grants only the
 * key's key_u64s words and the destination.
 */
#include "bkey_jit.h"
#include "bkey_jit_plan.h"
#include "tests/ref_unpack.h"
#include "tests/blind_scan.h"
#include "tests/ebpf_interp.h"
#include "bkey_jit_bpf.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

/* ENDBR64/ENDBR32 in the cached code of @j only at its entries. */
static void scan_code(struct bkey_jit *j)
{
	struct blind_code c = { .j = j };

	bkey_jit_for_each(blind_find_code, &c);
	/* blind_fixed_patterns[2] ("ret") adds no scan of its own. */
	if (c.code && blind_scan(c.code, c.len, c.entry, &blind_fixed_patterns[2]))
		abort();
}

/* Every eBPF lowering of @f must unpack @k as the reference does. */
static void check_ebpf(const struct bkey_format *f, const struct bkey_packed *k,
		       const struct bkey *want, const struct bpos *want_pos)
{
	static struct bpf_insn insns[BKEY_JIT_BPF_MAX_INSNS];
	unsigned int kind, v, len, nr;

	for (kind = 0; kind < 2; kind++) {
		struct bkey_plan plan;

		if (bkey_plan_build(f, kind, &plan))
			abort();
		bkey_plan_blind(&plan, kind + 1);
		for (v = 0; v < 2; v++) {
			struct bkey_jit_caps caps = { .unaligned = !v };
			u64 out[5] __aligned(8);
			struct bkey_jit_bpf_ctx ctx = { .dst = out, .src = k };
			struct ebpf_vm vm = {
				.regions = {
					{ &ctx, sizeof(ctx), false },
					{ k, 8 * f->key_u64s, false },
					{ out, kind ? sizeof(*want_pos) : sizeof(*want), true },
				},
				.nr_regions	= 3,
				.strict_align	= v,
			};

			if (bkey_jit_bpf_lower(&plan, &caps, insns, &len, &nr) ||
			    ebpf_run(&vm, insns, len, (u64)(unsigned long)&ctx, NULL) ||
			    memcmp(out, kind ? (const void *)want_pos : (const void *)want,
				   kind ? sizeof(*want_pos) : sizeof(*want)))
				abort();
		}
	}
}

/*
 * The compare of @l and @r (the input's key, and the same key with the
 * input's next bytes XORed in): the native code through the API, the
 * generic C and both eBPF lowerings must agree with the bit reference.
 */
static void check_cmp(struct bkey_jit *j, const struct bkey_packed *l,
		      const struct bkey_packed *r)
{
	static struct bpf_insn insns[BKEY_JIT_BPF_MAX_INSNS];
	const struct bkey_format *f = &j->format;
	int want = ref_cmp_bits(f, l, r);
	struct bkey_plan plan;
	unsigned int v, len, nr;

	if (bkey_jit_cmp_packed(j, l, r) != want ||
	    bkey_jit_cmp_packed_generic(j, l, r) != want ||
	    bkey_jit_cmp_packed(j, r, l) != -want)
		abort();
	if (bkey_plan_build(f, BKEY_PLAN_CMP_PACKED, &plan))
		abort();
	bkey_plan_blind(&plan, 3);
	for (v = 0; v < 2; v++) {
		struct bkey_jit_caps caps = { .unaligned = !v };
		struct bkey_jit_bpf_ctx ctx = { .dst = (void *)l, .src = r };
		struct ebpf_vm vm = {
			.regions = {
				{ &ctx, sizeof(ctx), false },
				{ l, 8 * f->key_u64s, false },
				{ r, 8 * f->key_u64s, false },
			},
			.nr_regions	= 3,
			.strict_align	= v,
			.want_r0	= true,
		};
		u64 r0;

		if (bkey_jit_bpf_lower(&plan, &caps, insns, &len, &nr) ||
		    ebpf_run(&vm, insns, len, (u64)(unsigned long)&ctx, &r0) ||
		    (int)r0 != want)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct bkey_packed k __aligned(8), k2 __aligned(8);
	struct bkey_format f;
	size_t i;
	struct bkey a, b, c;
	struct bpos pa, pc;
	struct bkey_plan plan;
	struct bkey_jit *j;

	if (size < sizeof(f))
		return 0;
	memcpy(&f, data, sizeof(f));
	memset(&k, 0, sizeof(k));
	memcpy(&k, data + sizeof(f), min(size - sizeof(f), sizeof(k)));

	j = bkey_jit_get(&f);
	if (bkey_format_validate(&f, NULL, 0)) {
		if (!IS_ERR(j) || bkey_plan_build(&f, BKEY_PLAN_UNPACK, &plan) >= 0)
			abort();
		return 0;
	}
	if (IS_ERR(j))
		abort();

	scan_code(j);
	bkey_jit_unpack(j, &a, &k);
	bkey_jit_unpack_generic(j, &b, &k);
	ref_unpack_bits(&f, &k, &c);
	bkey_jit_unpack_pos(j, &pa, &k);
	ref_unpack_pos_bits(&f, &k, &pc);
	if (memcmp(&a, &c, sizeof(a)) || memcmp(&b, &c, sizeof(b)) ||
	    memcmp(&pa, &pc, sizeof(pa)))
		abort();
	check_ebpf(&f, &k, &c, &pc);
	k2 = k;
	for (i = sizeof(f) + sizeof(k); i < size && i < sizeof(f) + 2 * sizeof(k); i++)
		((u8 *)&k2)[i - sizeof(f) - sizeof(k)] ^= data[i];
	check_cmp(j, &k, &k2);
	bkey_jit_put(j);
	return 0;
}
