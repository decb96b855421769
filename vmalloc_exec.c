// SPDX-License-Identifier: GPL-2.0
/*
 * vmalloc_exec: small pieces of executable memory for in-kernel JITs,
 * never writable and executable at the same time.
 *
 * A JIT that emits a few hundred bytes per function cannot afford a page
 * per function, so pieces are packed into pages with a bitmap of
 * VMALLOC_EXEC_ALIGN-sized granules per page, like bpf_prog_pack does.
 *
 * Life of a page:
 *   execmem_alloc()  - RW, NX: filled with trap instructions here
 *   set_memory_rox() - RO, X: from now on only the architecture's
 *                      text-poking primitive writes to it, through a
 *                      temporary alias, with the cache maintenance done
 *   execmem_free()   - once the last piece in it has been reclaimed
 *
 * Life of a piece:
 *   vmalloc_exec_alloc()  - granules become live; they already hold traps
 *   vmalloc_exec_write()  - code is copied in through the text primitive
 *   vmalloc_exec_free()   - traps are written back at once, then the
 *                           granules wait for a tasks-RCU grace period
 *                           before they can be handed out again
 *
 * Allocation and freeing are not hot paths (a JIT compiles rarely and
 * runs often), so one mutex protects everything here.
 */

#include <linux/bitmap.h>
#include <linux/cacheflush.h>
#include <linux/execmem.h>
#include <linux/export.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/set_memory.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#if defined(CONFIG_X86)
#include <asm/text-patching.h>
#elif defined(CONFIG_ARM64)
#include <asm/insn.h>
#include <asm/patching.h>
#endif

#include "vmalloc_exec.h"

#define VX_GRANULES	(PAGE_SIZE / VMALLOC_EXEC_ALIGN)

/*
 * Where the pages come from. On x86 the JIT ends functions with a
 * "jmp rel32" to x86_return_thunk, so the code must sit within +-2GB of
 * kernel text; x86 puts every execmem type, EXECMEM_BPF included, in the
 * module area, and the BPF JIT relies on that for the very same jump. On
 * arm64 EXECMEM_BPF is the whole vmalloc space, which leaves the scarce
 * direct-branch module area to modules; our arm64 code is leaf code and
 * branches nowhere. EXECMEM_BPF memory comes RW+NX on both architectures
 * (6.12 has no way to hand out ROX memory at all; the ROX cache added in
 * 6.13 is for module text), so a new page can be trap-filled with a plain
 * memset before it ever becomes executable. Should this type ever come
 * back ROX, vx_page_make_rox() must fill through vx_text_trap() instead.
 */
#define VX_EXECMEM_TYPE	EXECMEM_BPF

struct vx_page {
	struct list_head	list;
	void			*base;
	/* Granules not available for allocation: live, dying or waiting. */
	DECLARE_BITMAP(used, VX_GRANULES);
	/* Granules of pieces handed out and not yet freed. */
	DECLARE_BITMAP(live, VX_GRANULES);
	/* First granule of each live piece: tells adjacent pieces apart. */
	DECLARE_BITMAP(head, VX_GRANULES);
	/* Freed; the grace period that will release them has not started. */
	DECLARE_BITMAP(dying, VX_GRANULES);
	/* Freed before the grace period now in flight started. */
	DECLARE_BITMAP(waiting, VX_GRANULES);
};

static DEFINE_MUTEX(vx_mutex);
static LIST_HEAD(vx_pages);
static struct vmalloc_exec_stats vx_stats;
static unsigned int vx_fail_next;

/*
 * Deferred freeing runs in batches: pieces freed while no grace period is
 * in flight start one; pieces freed while one is in flight are "dying"
 * and start the next one when it ends. Batches complete in order, so
 * vx_reclaimed (pieces given back since boot) reaching a snapshot of
 * vx_stats.frees means every piece freed before the snapshot is back.
 */
static unsigned long vx_nr_waiting;
static unsigned long vx_reclaimed;
static bool vx_gp_in_flight;
static struct rcu_head vx_rcu;

static void vx_reclaim_workfn(struct work_struct *work);
static DECLARE_WORK(vx_reclaim_work, vx_reclaim_workfn);

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
 * Make a fresh page ready to hand out: full of traps, then read-only and
 * executable, in that order, so that it is never W+X and never executable
 * with stale contents (vmalloc does not zero pages).
 */
static int vx_page_make_rox(void *base)
{
	vx_fill_trap(base, PAGE_SIZE);
	/*
	 * The physical page may have held code in an earlier life; make sure
	 * no stale instructions for it survive in the I-cache. A no-op on x86.
	 */
	flush_icache_range((unsigned long)base, (unsigned long)base + PAGE_SIZE);
	/*
	 * execmem already asks vmalloc for VM_FLUSH_RESET_PERMS; say so again
	 * (as bpf_prog_pack does) because execmem_free() depends on it.
	 */
	set_vm_flush_reset_perms(base);
	return set_memory_rox((unsigned long)base, 1);
}

static struct vx_page *vx_page_new(void)
{
	struct vx_page *pg;

	lockdep_assert_held(&vx_mutex);

	pg = kzalloc(sizeof(*pg), GFP_KERNEL);
	if (!pg)
		return NULL;

	pg->base = execmem_alloc(VX_EXECMEM_TYPE, PAGE_SIZE);
	if (!pg->base)
		goto free_pg;
	if (vx_page_make_rox(pg->base))
		goto free_base;

	list_add_tail(&pg->list, &vx_pages);
	vx_stats.pages++;
	return pg;

free_base:
	execmem_free(pg->base);
free_pg:
	kfree(pg);
	return NULL;
}

/*
 * Give an empty page back. No set_memory_nx()/set_memory_rw() first, unlike
 * what module unloading used to do: the area was allocated with
 * VM_FLUSH_RESET_PERMS, so vfree() (behind execmem_free()) invalidates the
 * direct-map alias, flushes the TLB for both mappings and restores default
 * permissions before the page reaches the page allocator, atomically with
 * respect to anyone else. Changing permissions by hand would only add TLB
 * flushes, and done in the wrong order would create the W+X mapping we
 * promise never to have. This is what bpf_prog_pack_free() relies on too.
 * Must run in process context, hence the work item.
 */
static void vx_page_release(struct vx_page *pg)
{
	lockdep_assert_held(&vx_mutex);

	list_del(&pg->list);
	execmem_free(pg->base);
	kfree(pg);
	vx_stats.pages--;
}

static struct vx_page *vx_page_of(const void *addr)
{
	struct vx_page *pg;

	lockdep_assert_held(&vx_mutex);

	list_for_each_entry(pg, &vx_pages, list)
		if (addr >= pg->base && addr < pg->base + PAGE_SIZE)
			return pg;
	return NULL;
}

/* First fit over all pages; a new page when nothing fits. */
static struct vx_page *vx_find_space(unsigned int nbits, unsigned long *pos)
{
	struct vx_page *pg;

	lockdep_assert_held(&vx_mutex);

	list_for_each_entry(pg, &vx_pages, list) {
		*pos = bitmap_find_next_zero_area(pg->used, VX_GRANULES, 0,
						  nbits, 0);
		if (*pos < VX_GRANULES)
			return pg;
	}

	*pos = 0;
	return vx_page_new();
}

/* Length in granules of the live piece starting at @pos. */
static unsigned int vx_piece_granules(struct vx_page *pg, unsigned long pos)
{
	unsigned long next_head, next_dead;

	next_head = find_next_bit(pg->head, VX_GRANULES, pos + 1);
	next_dead = find_next_zero_bit(pg->live, VX_GRANULES, pos + 1);
	return min(next_head, next_dead) - pos;
}

/* Is [addr, addr + len) inside one live piece? */
static bool vx_range_is_live(const void *addr, size_t len)
{
	unsigned long off, first, last;
	struct vx_page *pg;

	lockdep_assert_held(&vx_mutex);

	pg = vx_page_of(addr);
	if (!pg || !len)
		return false;

	off = addr - pg->base;
	if (len > PAGE_SIZE - off)
		return false;

	first = off / VMALLOC_EXEC_ALIGN;
	last = (off + len - 1) / VMALLOC_EXEC_ALIGN;
	if (find_next_zero_bit(pg->live, last + 1, first) <= last)
		return false;
	/* A head after the first granule would be a different piece. */
	return find_next_bit(pg->head, last + 1, first + 1) > last;
}

/* Should an allocation of @bytes be refused? Counted by the caller. */
static bool vx_refuse(unsigned long bytes)
{
	lockdep_assert_held(&vx_mutex);

	if (vx_fail_next) {
		vx_fail_next--;
		return true;
	}
	return vx_stats.bytes_cap &&
	       vx_stats.bytes_used + bytes > vx_stats.bytes_cap;
}

/**
 * vmalloc_exec_alloc - allocate a piece of executable memory
 * @size: size in bytes, at most PAGE_SIZE
 *
 * The piece is read-only and executable, starts on a VMALLOC_EXEC_ALIGN
 * boundary and is filled with trap instructions. Put code in it with
 * vmalloc_exec_write(). May sleep.
 *
 * Return: the piece, or %NULL if @size is 0 or above PAGE_SIZE, memory is
 * short, the cap set by vmalloc_exec_set_cap() would be exceeded or failure
 * was injected with vmalloc_exec_fail_next().
 */
void *vmalloc_exec_alloc(size_t size)
{
	unsigned int nbits = DIV_ROUND_UP(size, VMALLOC_EXEC_ALIGN);
	unsigned long bytes = nbits * VMALLOC_EXEC_ALIGN;
	struct vx_page *pg = NULL;
	unsigned long pos;

	might_sleep();

	mutex_lock(&vx_mutex);
	if (size && size <= PAGE_SIZE && !vx_refuse(bytes))
		pg = vx_find_space(nbits, &pos);
	if (!pg) {
		vx_stats.failed++;
		mutex_unlock(&vx_mutex);
		return NULL;
	}

	bitmap_set(pg->used, pos, nbits);
	bitmap_set(pg->live, pos, nbits);
	__set_bit(pos, pg->head);
	vx_stats.bytes_used += bytes;
	vx_stats.allocs++;
	mutex_unlock(&vx_mutex);

	return pg->base + pos * VMALLOC_EXEC_ALIGN;
}
EXPORT_SYMBOL_GPL(vmalloc_exec_alloc);

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
EXPORT_SYMBOL_GPL(vmalloc_exec_write);

static void vx_gp_done(struct rcu_head *rcu)
{
	/* Softirq context without TASKS_RCU; reclaiming needs the mutex. */
	schedule_work(&vx_reclaim_work);
}

/*
 * Start a grace period for the dying granules, unless one is in flight:
 * then they wait for the next one, started when that ends.
 *
 * Tasks RCU, not plain RCU: JIT code runs with preemption enabled, so
 * under PREEMPT a task can be preempted in the middle of a piece and
 * resume there later; a normal grace period does not wait for it, a tasks
 * RCU one waits until every task has voluntarily scheduled or gone to user
 * space, and (since it begins with synchronize_rcu()) also covers code run
 * from interrupts. Without PREEMPTION, TASKS_RCU is off and call_rcu_tasks()
 * is call_rcu(), which is then enough, as no task can be preempted inside.
 */
static void vx_start_gp(void)
{
	struct vx_page *pg;

	lockdep_assert_held(&vx_mutex);

	/* Already waiting for one, or nothing freed since it started. */
	if (vx_gp_in_flight || vx_stats.pending_frees == vx_nr_waiting)
		return;

	list_for_each_entry(pg, &vx_pages, list) {
		bitmap_copy(pg->waiting, pg->dying, VX_GRANULES);
		bitmap_zero(pg->dying, VX_GRANULES);
	}
	vx_nr_waiting = vx_stats.pending_frees;
	vx_gp_in_flight = true;
	call_rcu_tasks(&vx_rcu, vx_gp_done);
}

/* The grace period ended: the waiting granules can be handed out again. */
static void vx_reclaim_workfn(struct work_struct *work)
{
	struct vx_page *pg, *tmp;

	mutex_lock(&vx_mutex);
	list_for_each_entry_safe(pg, tmp, &vx_pages, list) {
		bitmap_andnot(pg->used, pg->used, pg->waiting, VX_GRANULES);
		bitmap_zero(pg->waiting, VX_GRANULES);
		if (bitmap_empty(pg->used, VX_GRANULES))
			vx_page_release(pg);
	}
	vx_stats.pending_frees -= vx_nr_waiting;
	vx_reclaimed += vx_nr_waiting;
	vx_nr_waiting = 0;
	vx_gp_in_flight = false;
	vx_start_gp();
	mutex_unlock(&vx_mutex);
}

/**
 * vmalloc_exec_free - free a piece of executable memory
 * @addr: a piece from vmalloc_exec_alloc(), or %NULL
 *
 * The piece is refilled with trap instructions before this returns, so a
 * stale pointer to it traps rather than runs whatever comes next. Tasks
 * may still be executing it, though (preempted inside, say), so it is
 * handed out again only after a tasks-RCU grace period; see
 * vmalloc_exec_barrier(). May sleep.
 */
void vmalloc_exec_free(void *addr)
{
	unsigned long pos, nbits;
	struct vx_page *pg;

	if (!addr)
		return;
	might_sleep();

	mutex_lock(&vx_mutex);
	pg = vx_page_of(addr);
	pos = pg ? (addr - pg->base) / VMALLOC_EXEC_ALIGN : 0;
	if (WARN(!pg || !IS_ALIGNED(addr - pg->base, VMALLOC_EXEC_ALIGN) ||
		 !test_bit(pos, pg->head),
		 "vmalloc_exec: bad free of %p\n", addr))
		goto out;

	nbits = vx_piece_granules(pg, pos);
	WARN_ON_ONCE(vx_text_trap(addr, nbits * VMALLOC_EXEC_ALIGN));

	__clear_bit(pos, pg->head);
	bitmap_clear(pg->live, pos, nbits);
	bitmap_set(pg->dying, pos, nbits);
	vx_stats.bytes_used -= nbits * VMALLOC_EXEC_ALIGN;
	vx_stats.frees++;
	vx_stats.pending_frees++;
	vx_start_gp();
out:
	mutex_unlock(&vx_mutex);
}
EXPORT_SYMBOL_GPL(vmalloc_exec_free);

/**
 * vmalloc_exec_barrier - wait until freed pieces can be reused
 *
 * Returns once every piece freed before the call has been through its
 * grace period and is available again (and empty pages are given back).
 * For tests and teardown. May sleep, for a long time.
 */
void vmalloc_exec_barrier(void)
{
	unsigned long target;
	bool done;

	might_sleep();

	mutex_lock(&vx_mutex);
	target = vx_stats.frees;
	mutex_unlock(&vx_mutex);

	for (;;) {
		mutex_lock(&vx_mutex);
		done = vx_reclaimed >= target;
		mutex_unlock(&vx_mutex);
		if (done)
			break;

		/* rcu_barrier_tasks() only exists with TASKS_RCU, see above. */
		if (IS_ENABLED(CONFIG_TASKS_RCU))
			rcu_barrier_tasks();
		else
			rcu_barrier();
		flush_work(&vx_reclaim_work);
	}
}
EXPORT_SYMBOL_GPL(vmalloc_exec_barrier);

/**
 * vmalloc_exec_set_cap - limit the executable memory handed out
 * @bytes: most bytes (counted in whole granules) live at once; 0 for none
 *
 * Allocations that would go beyond the cap fail and count as failed.
 * Lowering the cap below what is in use frees nothing.
 */
void vmalloc_exec_set_cap(unsigned long bytes)
{
	mutex_lock(&vx_mutex);
	vx_stats.bytes_cap = bytes;
	mutex_unlock(&vx_mutex);
}
EXPORT_SYMBOL_GPL(vmalloc_exec_set_cap);

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
EXPORT_SYMBOL_GPL(vmalloc_exec_fail_next);

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
EXPORT_SYMBOL_GPL(vmalloc_exec_get_stats);
