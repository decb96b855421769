// SPDX-License-Identifier: GPL-2.0
/*
 * vmalloc_exec: small pieces of executable memory for in-kernel JITs,
 * never writable and executable at the same time.
 *
 * A JIT that emits a few hundred bytes per function cannot afford a page
 * per function, and every page made read-only splits the direct map and
 * flushes TLBs on all CPUs. So, like bpf_prog_pack, pieces are packed into
 * large packs, made read-only and executable once, with a bitmap of
 * VMALLOC_EXEC_ALIGN-sized granules per pack; an empty pack is kept for
 * reuse (one at most), so churn does not turn into flush storms.
 *
 * Life of a pack:
 *   execmem_alloc()  - RW, NX: filled with trap instructions here
 *   set_memory_rox() - RO, X: from now on only the architecture's
 *                      text-poking primitive writes to it, through a
 *                      temporary alias, with the cache maintenance done
 *   execmem_free()   - when it is empty and another empty pack is kept
 *
 * Life of a piece:
 *   vmalloc_exec_alloc()  - granules become live; they already hold traps
 *   vmalloc_exec_write()  - code is copied in through the text primitive
 *   vmalloc_exec_free()   - the caller guarantees that no CPU can be
 *                           executing the piece (it waited for the grace
 *                           periods that ensure it, as the BPF core does
 *                           before bpf_jit_free()); traps are written
 *                           back and the granules are free at once
 *
 * Allocation and freeing are not hot paths (a JIT compiles rarely and
 * runs often), and they sleep (text poking, set_memory_rox()), so one
 * mutex protects everything here. Nothing is exported: the text-copy
 * primitives behind vmalloc_exec_write() are deliberately not available
 * to modules, and neither is this.
 */

#include <linux/bitmap.h>
#include <linux/cacheflush.h>
#include <linux/execmem.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/set_memory.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#if defined(CONFIG_X86)
#include <asm/text-patching.h>
#elif defined(CONFIG_ARM64)
#include <asm/insn.h>
#include <asm/patching.h>
#endif

#include "vmalloc_exec.h"

#define VX_PACK_SIZE	VMALLOC_EXEC_PACK_SIZE
static_assert(VX_PACK_SIZE % PAGE_SIZE == 0);
#define VX_PACK_PAGES	(VX_PACK_SIZE >> PAGE_SHIFT)
#define VX_GRANULES	(VX_PACK_SIZE / VMALLOC_EXEC_ALIGN)

/*
 * Where the packs come from. On x86 the JIT ends functions with a
 * "jmp rel32" to x86_return_thunk, so the code must sit within +-2GB of
 * kernel text; x86 puts every execmem type, EXECMEM_BPF included, in the
 * module area, and the BPF JIT relies on that for the very same jump. On
 * arm64 EXECMEM_BPF is the whole vmalloc space, which leaves the scarce
 * direct-branch module area to modules; our arm64 code is leaf code and
 * branches nowhere. EXECMEM_BPF memory comes RW+NX on both architectures
 * (6.12 has no way to hand out ROX memory at all; the ROX cache added in
 * 6.13 is for module text), so a new pack can be trap-filled with a plain
 * memset before it ever becomes executable. Should this type ever come
 * back ROX, vx_pack_make_rox() must fill through vx_text_trap() instead.
 */
#define VX_EXECMEM_TYPE	EXECMEM_BPF

struct vx_pack {
	struct list_head	list;
	void			*base;
	unsigned int		used_granules;
	/* Granules of pieces handed out and not yet freed. */
	DECLARE_BITMAP(used, VX_GRANULES);
	/* First granule of each piece: tells adjacent pieces apart. */
	DECLARE_BITMAP(head, VX_GRANULES);
};

static DEFINE_MUTEX(vx_mutex);
static LIST_HEAD(vx_packs);
static struct vmalloc_exec_stats vx_stats;
static unsigned int vx_empty_packs;
static unsigned int vx_fail_next;

/*
 * The architecture's primitives for writing to executable memory. Both
 * write through a temporary writable alias of the page, never through a
 * W+X mapping, and make the new bytes visible to instruction fetch on all
 * CPUs: x86 text_poke_*() serialise and flush the alias' TLB entry, arm64
 * aarch64_insn_*() clean the D-cache and invalidate the I-cache to PoU and
 * make every CPU context-synchronise.
 */
#if defined(CONFIG_X86)

static int vx_text_copy(void *dst, const void *src, size_t len)
{
	return text_poke_copy(dst, src, len) ? 0 : -EINVAL;
}

static int vx_text_trap(void *dst, size_t len)
{
	return text_poke_set(dst, INT3_INSN_OPCODE, len) ? 0 : -EINVAL;
}

/* Only for a page that is still RW and NX. */
static void vx_fill_trap(void *dst, size_t len)
{
	memset(dst, INT3_INSN_OPCODE, len);
}

#elif defined(CONFIG_ARM64)

static int vx_text_copy(void *dst, const void *src, size_t len)
{
	return aarch64_insn_copy(dst, (void *)src, len) ? 0 : -EINVAL;
}

static int vx_text_trap(void *dst, size_t len)
{
	return aarch64_insn_set(dst, AARCH64_BREAK_FAULT, len) ? 0 : -EINVAL;
}

/* Only for a page that is still RW and NX. */
static void vx_fill_trap(void *dst, size_t len)
{
	__le32 *insn = dst;
	size_t i;

	for (i = 0; i < len / AARCH64_INSN_SIZE; i++)
		insn[i] = cpu_to_le32(AARCH64_BREAK_FAULT);
}

#else
#error "vmalloc_exec: no text-poking primitive for this architecture"
#endif

/*
 * Make a fresh pack ready to hand out: full of traps, then read-only and
 * executable, in that order, so that it is never W+X and never executable
 * with stale contents (vmalloc does not zero pages).
 */
static int vx_pack_make_rox(void *base)
{
	vx_fill_trap(base, VX_PACK_SIZE);
	/*
	 * The physical pages may have held code in an earlier life; make sure
	 * no stale instructions for them survive in the I-cache. A no-op on
	 * x86.
	 */
	flush_icache_range((unsigned long)base,
			   (unsigned long)base + VX_PACK_SIZE);
	/*
	 * execmem already asks vmalloc for VM_FLUSH_RESET_PERMS; say so again
	 * (as bpf_prog_pack does) because execmem_free() depends on it.
	 */
	set_vm_flush_reset_perms(base);
	return set_memory_rox((unsigned long)base, VX_PACK_PAGES);
}

static struct vx_pack *vx_pack_new(void)
{
	struct vx_pack *pack;

	lockdep_assert_held(&vx_mutex);

	pack = kzalloc(sizeof(*pack), GFP_KERNEL);
	if (!pack)
		return NULL;

	pack->base = execmem_alloc(VX_EXECMEM_TYPE, VX_PACK_SIZE);
	if (!pack->base)
		goto free_pack;
	if (vx_pack_make_rox(pack->base))
		goto free_base;

	list_add_tail(&pack->list, &vx_packs);
	vx_stats.pages += VX_PACK_PAGES;
	vx_stats.bytes_exec += VX_PACK_SIZE;
	return pack;

free_base:
	execmem_free(pack->base);
free_pack:
	kfree(pack);
	return NULL;
}

/*
 * Give an empty pack back. No set_memory_nx()/set_memory_rw() first, unlike
 * what module unloading used to do: the area was allocated with
 * VM_FLUSH_RESET_PERMS, so vfree() (behind execmem_free()) invalidates the
 * direct-map alias, flushes the TLB for both mappings and restores default
 * permissions before the pages reach the page allocator, atomically with
 * respect to anyone else. Changing permissions by hand would only add TLB
 * flushes, and done in the wrong order would create the W+X mapping we
 * promise never to have. This is what bpf_prog_pack_free() relies on too.
 */
static void vx_pack_release(struct vx_pack *pack)
{
	lockdep_assert_held(&vx_mutex);

	list_del(&pack->list);
	execmem_free(pack->base);
	kfree(pack);
	vx_stats.pages -= VX_PACK_PAGES;
	vx_stats.bytes_exec -= VX_PACK_SIZE;
}

static struct vx_pack *vx_pack_of(const void *addr)
{
	struct vx_pack *pack;

	lockdep_assert_held(&vx_mutex);

	list_for_each_entry(pack, &vx_packs, list)
		if (addr >= pack->base && addr < pack->base + VX_PACK_SIZE)
			return pack;
	return NULL;
}

/* First fit over all packs; a new pack when nothing fits. */
static struct vx_pack *vx_find_space(unsigned int nbits, unsigned long *pos)
{
	struct vx_pack *pack;

	lockdep_assert_held(&vx_mutex);

	list_for_each_entry(pack, &vx_packs, list) {
		if (VX_GRANULES - pack->used_granules < nbits)
			continue;
		*pos = bitmap_find_next_zero_area(pack->used, VX_GRANULES, 0,
						  nbits, 0);
		if (*pos < VX_GRANULES)
			return pack;
	}

	*pos = 0;
	pack = vx_pack_new();
	if (pack)
		vx_empty_packs++;
	return pack;
}

/* Length in granules of the piece starting at @pos. */
static unsigned int vx_piece_granules(struct vx_pack *pack, unsigned long pos)
{
	unsigned long next_head, next_free;

	next_head = find_next_bit(pack->head, VX_GRANULES, pos + 1);
	next_free = find_next_zero_bit(pack->used, VX_GRANULES, pos + 1);
	return min(next_head, next_free) - pos;
}

/* Is [addr, addr + len) inside one live piece? */
static bool vx_range_is_live(const void *addr, size_t len)
{
	unsigned long off, first, last;
	struct vx_pack *pack;

	lockdep_assert_held(&vx_mutex);

	pack = vx_pack_of(addr);
	if (!pack || !len)
		return false;

	off = addr - pack->base;
	if (len > VX_PACK_SIZE - off)
		return false;

	first = off / VMALLOC_EXEC_ALIGN;
	last = (off + len - 1) / VMALLOC_EXEC_ALIGN;
	if (find_next_zero_bit(pack->used, last + 1, first) <= last)
		return false;
	/* A head after the first granule would be a different piece. */
	return find_next_bit(pack->head, last + 1, first + 1) > last;
}

/* Why an allocation of @bytes is refused, or 0. Counted by the caller. */
static int vx_refuse(unsigned long bytes)
{
	lockdep_assert_held(&vx_mutex);

	if (vx_fail_next) {
		vx_fail_next--;
		return -ENOMEM;
	}
	if (vx_stats.bytes_cap &&
	    vx_stats.bytes_used + bytes > vx_stats.bytes_cap)
		return -ENOSPC;
	return 0;
}

static void vx_mark_used(struct vx_pack *pack, unsigned long pos,
			 unsigned int nbits)
{
	if (!pack->used_granules)
		vx_empty_packs--;
	bitmap_set(pack->used, pos, nbits);
	__set_bit(pos, pack->head);
	pack->used_granules += nbits;
	vx_stats.bytes_used += nbits * VMALLOC_EXEC_ALIGN;
	vx_stats.allocs++;
}

/**
 * vmalloc_exec_alloc - allocate a piece of executable memory
 * @size: size in bytes, at most VMALLOC_EXEC_PACK_SIZE
 *
 * The piece is read-only and executable, starts on a VMALLOC_EXEC_ALIGN
 * boundary and is filled with trap instructions. Put code in it with
 * vmalloc_exec_write(). May sleep.
 *
 * Return: the piece, or ERR_PTR(-EINVAL) if @size is 0 or too large,
 * ERR_PTR(-ENOSPC) if the cap set by vmalloc_exec_set_cap() would be
 * exceeded, ERR_PTR(-ENOMEM) if memory is short or failure was injected
 * with vmalloc_exec_fail_next().
 */
void *vmalloc_exec_alloc(size_t size)
{
	unsigned int nbits = DIV_ROUND_UP(size, VMALLOC_EXEC_ALIGN);
	struct vx_pack *pack = NULL;
	unsigned long pos;
	int ret = -EINVAL;

	might_sleep();

	mutex_lock(&vx_mutex);
	if (size && size <= VX_PACK_SIZE) {
		ret = vx_refuse(nbits * VMALLOC_EXEC_ALIGN);
		if (!ret) {
			pack = vx_find_space(nbits, &pos);
			ret = pack ? 0 : -ENOMEM;
		}
	}
	if (ret) {
		vx_stats.failed++;
		mutex_unlock(&vx_mutex);
		return ERR_PTR(ret);
	}
	vx_mark_used(pack, pos, nbits);
	mutex_unlock(&vx_mutex);

	return pack->base + pos * VMALLOC_EXEC_ALIGN;
}

/**
 * vmalloc_exec_write - copy code into a piece of executable memory
 * @dst: where to copy to, inside a piece from vmalloc_exec_alloc()
 * @src: the code, built in ordinary memory
 * @len: how many bytes
 *
 * Copies through the architecture's text-poking primitive, which also
 * makes the code visible to instruction fetch on every CPU. Meant for
 * parts of a piece that no CPU is executing yet. May sleep.
 *
 * Return: 0, or -EINVAL if [@dst, @dst + @len) is not inside one live
 * piece (or, on arm64, @dst is not 4-byte aligned).
 */
int vmalloc_exec_write(void *dst, const void *src, size_t len)
{
	int ret = -EINVAL;

	might_sleep();

	mutex_lock(&vx_mutex);
	if (vx_range_is_live(dst, len))
		ret = vx_text_copy(dst, src, len);
	mutex_unlock(&vx_mutex);
	return ret;
}

/* Keep one empty pack for the next allocations, give back the others. */
static void vx_pack_emptied(struct vx_pack *pack)
{
	if (vx_empty_packs)
		vx_pack_release(pack);
	else
		vx_empty_packs++;
}

/**
 * vmalloc_exec_free - free a piece of executable memory
 * @addr: a piece from vmalloc_exec_alloc(), or %NULL or an error pointer
 *
 * The caller guarantees that no CPU is executing the piece or can still
 * enter it: bkey_jit waits for an RCU and a tasks-RCU grace period after
 * its code became unreachable. The piece is refilled with trap
 * instructions before this returns and may be handed out again at once.
 * May sleep.
 */
void vmalloc_exec_free(void *addr)
{
	unsigned long pos, nbits;
	struct vx_pack *pack;

	if (IS_ERR_OR_NULL(addr))
		return;
	might_sleep();

	mutex_lock(&vx_mutex);
	pack = vx_pack_of(addr);
	pos = pack ? (addr - pack->base) / VMALLOC_EXEC_ALIGN : 0;
	if (WARN(!pack || !IS_ALIGNED(addr - pack->base, VMALLOC_EXEC_ALIGN) ||
		 !test_bit(pos, pack->head),
		 "vmalloc_exec: bad free of %p\n", addr))
		goto out;

	nbits = vx_piece_granules(pack, pos);
	WARN_ON_ONCE(vx_text_trap(addr, nbits * VMALLOC_EXEC_ALIGN));

	__clear_bit(pos, pack->head);
	bitmap_clear(pack->used, pos, nbits);
	pack->used_granules -= nbits;
	vx_stats.bytes_used -= nbits * VMALLOC_EXEC_ALIGN;
	vx_stats.frees++;
	if (!pack->used_granules)
		vx_pack_emptied(pack);
out:
	mutex_unlock(&vx_mutex);
}

/**
 * vmalloc_exec_set_cap - limit the executable memory handed out
 * @bytes: most bytes (counted in whole granules) live at once; 0 for none
 *
 * Allocations that would go beyond the cap fail with -ENOSPC and count as
 * failed. Lowering the cap below what is in use frees nothing.
 */
void vmalloc_exec_set_cap(unsigned long bytes)
{
	mutex_lock(&vx_mutex);
	vx_stats.bytes_cap = bytes;
	mutex_unlock(&vx_mutex);
}

/**
 * vmalloc_exec_fail_next - make the next allocations fail
 * @n: how many of the next vmalloc_exec_alloc() calls fail; 0 to stop
 *
 * Fault injection for tests of callers' fallback paths. The refused
 * allocations count as failed.
 */
void vmalloc_exec_fail_next(unsigned int n)
{
	mutex_lock(&vx_mutex);
	vx_fail_next = n;
	mutex_unlock(&vx_mutex);
}

/**
 * vmalloc_exec_get_stats - read the allocator's counters
 * @s: filled with a consistent snapshot
 */
void vmalloc_exec_get_stats(struct vmalloc_exec_stats *s)
{
	mutex_lock(&vx_mutex);
	*s = vx_stats;
	mutex_unlock(&vx_mutex);
}
