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
 */
#include "bkey_jit.h"
#include "bkey_jit_plan.h"
#include "tests/ref_unpack.h"
#include "tests/blind_scan.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

/* ENDBR64/ENDBR32 in the cached code of @j only at its two entries. */
static void scan_code(struct bkey_jit *j)
{
	struct blind_code c = { .j = j };

	bkey_jit_for_each(blind_find_code, &c);
	/* blind_fixed_patterns[2] ("ret") adds no scan of its own. */
	if (c.code && blind_scan(c.code, c.len, c.entry, &blind_fixed_patterns[2]))
		abort();
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct bkey_packed k __aligned(8);
	struct bkey_format f;
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
	bkey_jit_put(j);
	return 0;
}
