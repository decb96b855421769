// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for vmalloc_exec: W^X, trap filling, packing, reuse, the
 * cap, fault injection, the kept empty pack and accounting.
 *
 * The tests assume nobody else allocates from vmalloc_exec while they run
 * (true at boot, before bkey_jit compiles anything): first-fit placement
 * is then predictable.
 */

#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#if defined(CONFIG_ARM64)
#include <asm/insn.h>
#endif

#include "vmalloc_exec.h"

static struct vmalloc_exec_stats vx_base;

/* Does [p, p + len) hold nothing but trap instructions? */
static bool vx_is_trap(const void *p, size_t len)
{
#if defined(CONFIG_X86)
	return !memchr_inv(p, 0xcc, len);
#elif defined(CONFIG_ARM64)
	const __le32 *insn = p;
	size_t i;

	for (i = 0; i < len / AARCH64_INSN_SIZE; i++)
		if (le32_to_cpu(insn[i]) != AARCH64_BREAK_FAULT)
			return false;
	return true;
#endif
}

/*
 * A leaf function returning 42, with the landing pad that indirect calls
 * need under IBT/BTI (a no-op where those are off).
 */
static size_t vx_ret42(void *buf)
{
#if defined(CONFIG_X86)
	static const u8 code[] = {
		0xf3, 0x0f, 0x1e, 0xfa,		/* endbr64 */
		0xb8, 0x2a, 0x00, 0x00, 0x00,	/* mov $42, %eax */
		0xc3,				/* ret */
		0xcc,				/* int3 */
	};

	memcpy(buf, code, sizeof(code));
	return sizeof(code);
#elif defined(CONFIG_ARM64)
	static const u32 code[] = {
		0xd503245f,			/* bti c */
		0x52800540,			/* mov w0, #42 */
		0xd65f03c0,			/* ret */
	};
	__le32 *insn = buf;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(code); i++)
		insn[i] = cpu_to_le32(code[i]);
	return sizeof(code);
#endif
}

/* Permissions of the kernel mapping of @addr, from the page tables. */
static bool vx_prot(const void *addr, bool *write, bool *exec)
{
	unsigned long a = (unsigned long)addr;
	pte_t pte;
#if defined(CONFIG_X86)
	unsigned int level;
	pte_t *ptep = lookup_address(a, &level);

	if (!ptep)
		return false;
	pte = *ptep;
	*write = pte_write(pte);
	*exec = pte_exec(pte);
#elif defined(CONFIG_ARM64)
	pgd_t *pgdp = pgd_offset_k(a);
	p4d_t *p4dp;
	pud_t *pudp, pud;
	pmd_t *pmdp, pmd;

	if (pgd_none(READ_ONCE(*pgdp)))
		return false;
	p4dp = p4d_offset(pgdp, a);
	if (p4d_none(READ_ONCE(*p4dp)))
		return false;
	pudp = pud_offset(p4dp, a);
	pud = READ_ONCE(*pudp);
	if (pud_none(pud))
		return false;
	if (pud_leaf(pud)) {
		pte = pud_pte(pud);
	} else {
		pmdp = pmd_offset(pudp, a);
		pmd = READ_ONCE(*pmdp);
		if (pmd_none(pmd))
			return false;
		if (pmd_leaf(pmd))
			pte = pmd_pte(pmd);
		else
			pte = __ptep_get(pte_offset_kernel(pmdp, a));
	}
	*write = pte_write(pte);
	*exec = !(pte_val(pte) & PTE_PXN);
#endif
	return pte_present(pte);
}

static void vx_stats(struct vmalloc_exec_stats *s)
{
	vmalloc_exec_get_stats(s);
}

/* Fresh pieces are aligned and full of traps. */
static const size_t vx_sizes[] = { 1, 15, 16, 17, 100, 256, 1000, PAGE_SIZE,
				   VMALLOC_EXEC_PACK_SIZE };

static void vx_size_desc(const size_t *size, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "size %zu", *size);
}

KUNIT_ARRAY_PARAM(vx_size, vx_sizes, vx_size_desc);

static void vx_test_alloc_traps(struct kunit *test)
{
	size_t size = *(const size_t *)test->param_value;
	size_t rounded = round_up(size, VMALLOC_EXEC_ALIGN);
	void *p = vmalloc_exec_alloc(size);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED((unsigned long)p, VMALLOC_EXEC_ALIGN));
	KUNIT_EXPECT_TRUE(test, vx_is_trap(p, rounded));
	vmalloc_exec_free(p);
}

/* Not writable: a plain store faults (and copy_to_kernel_nofault says so). */
static void vx_test_not_writable(struct kunit *test)
{
	u8 *p = vmalloc_exec_alloc(64);
	u8 byte = 0x90, before;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	before = p[8];
	KUNIT_EXPECT_NE(test, copy_to_kernel_nofault(p + 8, &byte, 1), 0);
	KUNIT_EXPECT_EQ(test, p[8], before);
	vmalloc_exec_free(p);
}

/*
 * The page tables agree: pieces are RO+X, the kmalloc'ed buffer a JIT
 * builds code in is RW+NX.
 */
static void vx_test_page_prot(struct kunit *test)
{
	void *p = vmalloc_exec_alloc(64);
	void *buf = kunit_kmalloc(test, 64, GFP_KERNEL);
	bool write, exec;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, buf);

	KUNIT_EXPECT_TRUE(test, vx_prot(p, &write, &exec));
	KUNIT_EXPECT_FALSE(test, write);
	KUNIT_EXPECT_TRUE(test, exec);

	KUNIT_EXPECT_TRUE(test, vx_prot(buf, &write, &exec));
	KUNIT_EXPECT_TRUE(test, write);
	KUNIT_EXPECT_FALSE(test, exec);

	vmalloc_exec_free(p);
}

typedef int (*vx_int_fn)(void);

/* Code built in a kmalloc'ed buffer and written in runs. */
static void vx_test_exec(struct kunit *test)
{
	u8 *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	size_t len;
	vx_int_fn fn;
	void *p;

	/* kCFI would want a type hash in front of the code; we emit none. */
	if (IS_ENABLED(CONFIG_CFI_CLANG))
		kunit_skip(test, "indirect call to JIT code without kCFI hash");

	KUNIT_ASSERT_NOT_NULL(test, buf);
	len = vx_ret42(buf);
	p = vmalloc_exec_alloc(len);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	KUNIT_ASSERT_EQ(test, vmalloc_exec_write(p, buf, len), 0);
	KUNIT_EXPECT_EQ(test, memcmp(p, buf, len), 0);

	fn = (vx_int_fn)p;
	KUNIT_EXPECT_EQ(test, fn(), 42);
	vmalloc_exec_free(p);
}

/* Freed code is overwritten with traps before vmalloc_exec_free() returns. */
static void vx_test_free_traps(struct kunit *test)
{
	u8 *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	void *keep, *p;
	size_t len;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	len = vx_ret42(buf);
	/* @keep pins the pack, so reading @p after its free is safe. */
	keep = vmalloc_exec_alloc(16);
	p = vmalloc_exec_alloc(len);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, keep);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);

	KUNIT_ASSERT_EQ(test, vmalloc_exec_write(p, buf, len), 0);
	KUNIT_EXPECT_FALSE(test, vx_is_trap(p, len));
	vmalloc_exec_free(p);
	KUNIT_EXPECT_TRUE(test, vx_is_trap(p, round_up(len, VMALLOC_EXEC_ALIGN)));
	vmalloc_exec_free(keep);
}

/*
 * The caller of vmalloc_exec_free() guarantees nobody runs the piece any
 * more (bkey_jit waits for the grace periods first), so its space is
 * handed out again at once: first fit gives the same place back.
 */
static void vx_test_reuse_at_once(struct kunit *test)
{
	void *keep, *a, *b;

	keep = vmalloc_exec_alloc(16);
	a = vmalloc_exec_alloc(64);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, keep);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, a);

	vmalloc_exec_free(a);
	b = vmalloc_exec_alloc(64);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, b);
	KUNIT_EXPECT_PTR_EQ(test, b, a);
	KUNIT_EXPECT_TRUE(test, vx_is_trap(b, 64));
	vmalloc_exec_free(b);
	vmalloc_exec_free(keep);
}

/* Small pieces share a pack. */
struct vx_pack_case {
	size_t a, b;
};

static const struct vx_pack_case vx_pack_cases[] = {
	{ 16, 16 },
	{ 100, 200 },
	{ PAGE_SIZE / 2, PAGE_SIZE / 2 },
	{ 16, PAGE_SIZE - 16 },
	{ PAGE_SIZE, 3 * PAGE_SIZE },
};

static void vx_pack_desc(const struct vx_pack_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%zu + %zu", c->a, c->b);
}

KUNIT_ARRAY_PARAM(vx_pack, vx_pack_cases, vx_pack_desc);

static void vx_test_packing(struct kunit *test)
{
	const struct vx_pack_case *c = test->param_value;
	struct vmalloc_exec_stats before, after;
	void *a, *b;

	vx_stats(&before);
	a = vmalloc_exec_alloc(c->a);
	b = vmalloc_exec_alloc(c->b);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, a);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, b);
	vx_stats(&after);

	KUNIT_EXPECT_TRUE(test,
			  a + round_up(c->a, VMALLOC_EXEC_ALIGN) <= b ||
			  b + round_up(c->b, VMALLOC_EXEC_ALIGN) <= a);
	KUNIT_EXPECT_LE(test, after.bytes_exec,
			before.bytes_exec + VMALLOC_EXEC_PACK_SIZE);
	KUNIT_EXPECT_EQ(test, after.pages * PAGE_SIZE, after.bytes_exec);
	KUNIT_EXPECT_EQ(test, after.bytes_used,
			before.bytes_used + round_up(c->a, VMALLOC_EXEC_ALIGN) +
			round_up(c->b, VMALLOC_EXEC_ALIGN));
	vmalloc_exec_free(a);
	vmalloc_exec_free(b);
}

/* Going over the cap fails and is counted. */
static void vx_test_cap(struct kunit *test)
{
	struct vmalloc_exec_stats s;
	unsigned long failed;
	void *a, *b;

	vx_stats(&s);
	failed = s.failed;
	vmalloc_exec_set_cap(s.bytes_used + 64);

	a = vmalloc_exec_alloc(64);
	KUNIT_EXPECT_NOT_ERR_OR_NULL(test, a);
	b = vmalloc_exec_alloc(1);
	KUNIT_EXPECT_EQ(test, PTR_ERR(b), -ENOSPC);
	vx_stats(&s);
	KUNIT_EXPECT_EQ(test, s.failed, failed + 1);

	/* Freeing makes room again. */
	vmalloc_exec_free(a);
	b = vmalloc_exec_alloc(64);
	KUNIT_EXPECT_NOT_ERR_OR_NULL(test, b);
	vmalloc_exec_free(b);

	vmalloc_exec_set_cap(0);
	vx_stats(&s);
	KUNIT_EXPECT_EQ(test, s.bytes_cap, 0);
}

/* Sizes that are never handed out. */
static void vx_test_bad_size(struct kunit *test)
{
	struct vmalloc_exec_stats s;
	unsigned long failed;

	vx_stats(&s);
	failed = s.failed;
	KUNIT_EXPECT_EQ(test, PTR_ERR(vmalloc_exec_alloc(0)), -EINVAL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(vmalloc_exec_alloc(VMALLOC_EXEC_PACK_SIZE + 1)),
			-EINVAL);
	vx_stats(&s);
	KUNIT_EXPECT_EQ(test, s.failed, failed + 2);
	vmalloc_exec_free(NULL);
	vmalloc_exec_free(ERR_PTR(-ENOMEM));
}

/*
 * Writes must stay inside one live piece. Layout: pieces A and B of 64
 * bytes each, adjacent, and free space after B; offsets are from A.
 */
struct vx_write_case {
	const char *name;
	long off;
	size_t len;
	int ret;
};

static const struct vx_write_case vx_write_cases[] = {
	{ "all of A",		0,	64,	0 },
	{ "inside A",		16,	32,	0 },
	{ "all of B",		64,	64,	0 },
	{ "empty",		0,	0,	-EINVAL },
	{ "A into B",		0,	65,	-EINVAL },
	{ "straddles A|B",	56,	16,	-EINVAL },
	{ "past B",		128,	16,	-EINVAL },
	{ "B into free",	120,	16,	-EINVAL },
	{ "huge",		0,	SIZE_MAX, -EINVAL },
};

static void vx_write_desc(const struct vx_write_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(vx_write, vx_write_cases, vx_write_desc);

static void vx_test_write_range(struct kunit *test)
{
	const struct vx_write_case *c = test->param_value;
	u8 *src = kunit_kmalloc(test, 256, GFP_KERNEL);
	u8 *a, *b;

	KUNIT_ASSERT_NOT_NULL(test, src);
	memset(src, 0, 256);
	a = vmalloc_exec_alloc(64);
	b = vmalloc_exec_alloc(64);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, a);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, b);
	KUNIT_ASSERT_PTR_EQ(test, b, a + 64);

	KUNIT_EXPECT_EQ(test, vmalloc_exec_write(a + c->off, src, c->len),
			c->ret);
	if (c->ret)
		KUNIT_EXPECT_TRUE(test, vx_is_trap(a, 128));

	vmalloc_exec_free(b);
	vmalloc_exec_free(a);
}

/* Nor anywhere that is not a live piece. */
static void vx_test_write_dead(struct kunit *test)
{
	u8 *src = kunit_kzalloc(test, 64, GFP_KERNEL);
	void *keep, *p;

	KUNIT_ASSERT_NOT_NULL(test, src);
	KUNIT_EXPECT_EQ(test, vmalloc_exec_write(src, src, 16), -EINVAL);

	keep = vmalloc_exec_alloc(16);
	p = vmalloc_exec_alloc(64);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, keep);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	vmalloc_exec_free(p);
	KUNIT_EXPECT_EQ(test, vmalloc_exec_write(p, src, 16), -EINVAL);
	KUNIT_EXPECT_TRUE(test, vx_is_trap(p, 64));
	vmalloc_exec_free(keep);
}

/* Injected failures fail exactly the next n allocations. */
static void vx_test_fail_next(struct kunit *test)
{
	struct vmalloc_exec_stats s;
	unsigned long failed;
	void *p;

	vx_stats(&s);
	failed = s.failed;

	vmalloc_exec_fail_next(2);
	KUNIT_EXPECT_EQ(test, PTR_ERR(vmalloc_exec_alloc(16)), -ENOMEM);
	KUNIT_EXPECT_EQ(test, PTR_ERR(vmalloc_exec_alloc(16)), -ENOMEM);
	p = vmalloc_exec_alloc(16);
	KUNIT_EXPECT_NOT_ERR_OR_NULL(test, p);
	vmalloc_exec_free(p);

	vmalloc_exec_fail_next(1);
	vmalloc_exec_fail_next(0);
	p = vmalloc_exec_alloc(16);
	KUNIT_EXPECT_NOT_ERR_OR_NULL(test, p);
	vmalloc_exec_free(p);

	vx_stats(&s);
	KUNIT_EXPECT_EQ(test, s.failed, failed + 2);
}

/* Many pieces over two packs, freed in a scattered order. */
static void vx_test_many(struct kunit *test)
{
	const int n = VMALLOC_EXEC_PACK_SIZE / 64 + 64;
	void **p = kunit_kcalloc(test, n, sizeof(*p), GFP_KERNEL);
	struct vmalloc_exec_stats s;
	int i;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	for (i = 0; i < n; i++) {
		p[i] = vmalloc_exec_alloc(64);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p[i]);
	}
	vx_stats(&s);
	KUNIT_EXPECT_GE(test, s.bytes_exec,
			vx_base.bytes_exec + VMALLOC_EXEC_PACK_SIZE);
	for (i = 0; i < n; i += 2)
		vmalloc_exec_free(p[i]);
	for (i = 1; i < n; i += 2)
		vmalloc_exec_free(p[i]);
}

/*
 * Emptied packs: one is kept for the next allocations (no new sealing, no
 * TLB flush), the others go back at once.
 */
static void vx_test_empty_pack_kept(struct kunit *test)
{
	struct vmalloc_exec_stats s, full;
	void *a, *b, *c;

	a = vmalloc_exec_alloc(VMALLOC_EXEC_PACK_SIZE);
	b = vmalloc_exec_alloc(VMALLOC_EXEC_PACK_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, a);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, b);
	vx_stats(&full);

	vmalloc_exec_free(a);
	vmalloc_exec_free(b);
	vx_stats(&s);
	/* at most one empty pack stays, and it is one of these two */
	KUNIT_EXPECT_EQ(test, s.bytes_exec,
			full.bytes_exec - VMALLOC_EXEC_PACK_SIZE);

	c = vmalloc_exec_alloc(VMALLOC_EXEC_PACK_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, c);
	vx_stats(&full);
	KUNIT_EXPECT_EQ(test, full.bytes_exec, s.bytes_exec);
	KUNIT_EXPECT_TRUE(test, c == a || c == b);
	vmalloc_exec_free(c);
}

/* Every test gave back what it took: nothing leaks. */
static void vx_test_no_leak(struct kunit *test)
{
	struct vmalloc_exec_stats s;

	vx_stats(&s);
	KUNIT_EXPECT_EQ(test, s.bytes_used, vx_base.bytes_used);
	KUNIT_EXPECT_LE(test, s.bytes_exec,
			vx_base.bytes_exec + VMALLOC_EXEC_PACK_SIZE);
	KUNIT_EXPECT_EQ(test, s.allocs - s.frees, vx_base.allocs - vx_base.frees);
	KUNIT_EXPECT_GT(test, s.allocs, vx_base.allocs);
}

static int vx_suite_init(struct kunit_suite *suite)
{
	vmalloc_exec_get_stats(&vx_base);
	return 0;
}

static struct kunit_case vmalloc_exec_test_cases[] = {
	KUNIT_CASE_PARAM(vx_test_alloc_traps, vx_size_gen_params),
	KUNIT_CASE(vx_test_not_writable),
	KUNIT_CASE(vx_test_page_prot),
	KUNIT_CASE(vx_test_exec),
	KUNIT_CASE(vx_test_free_traps),
	KUNIT_CASE(vx_test_reuse_at_once),
	KUNIT_CASE_PARAM(vx_test_packing, vx_pack_gen_params),
	KUNIT_CASE(vx_test_cap),
	KUNIT_CASE(vx_test_bad_size),
	KUNIT_CASE_PARAM(vx_test_write_range, vx_write_gen_params),
	KUNIT_CASE(vx_test_write_dead),
	KUNIT_CASE(vx_test_fail_next),
	KUNIT_CASE(vx_test_many),
	KUNIT_CASE(vx_test_empty_pack_kept),
	KUNIT_CASE(vx_test_no_leak),
	{}
};

static struct kunit_suite vmalloc_exec_test_suite = {
	.name = "vmalloc_exec",
	.suite_init = vx_suite_init,
	.test_cases = vmalloc_exec_test_cases,
};

kunit_test_suite(vmalloc_exec_test_suite);

MODULE_DESCRIPTION("KUnit tests for vmalloc_exec");
MODULE_LICENSE("GPL");
