// SPDX-License-Identifier: GPL-2.0
/*
 * vmalloc_exec for the userspace build: the same API as the kernel's, and
 * the same W^X discipline.
 *
 * Executable memory comes in packs of EXEC_PACK_SIZE bytes of a memfd (the
 * bpf_prog_pack model): a new pack is trap-filled and mapped read+exec
 * once, before anything can run in it, and its executable mapping is never
 * writable. Pieces are handed out first fit over a bitmap of
 * VMALLOC_EXEC_ALIGN granules per pack.
 *
 * Code is copied in through a second mapping of the same pages, read-write
 * and never executable: one copy per vmalloc_exec_write(). That alias
 * lives as long as its pack. A short-lived one, as the kernel's text_poke
 * uses, would cost two system calls per write, and a system call costs more
 * than a compile: the copy would dominate every cache miss. No mapping is
 * ever writable and executable at once.
 *
 * Native CPUs see the copy after the cache maintenance. A binary translator
 * such as qemu-user does not see writes through another mapping, and would
 * keep running its translation of code that used to be at the address: the
 * first pack probes for that (write, run, rewrite, run), and if the CPU
 * ran stale code, every write also remaps the written pages of the
 * executable mapping in place (MAP_FIXED, same file pages), which drops
 * translations of them.
 *
 * An empty pack is kept for the next allocation, so that a cache that
 * frees and compiles in turns does not map and unmap a pack each time;
 * more than one empty pack is released at once.
 *
 * Userspace has no grace period here: the caller of vmalloc_exec_free()
 * guarantees that no thread still runs the piece (bkey_jit waits for one
 * before freeing), so the space is trap-filled and reusable at once.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmalloc_exec.h"

#define EXEC_PACK_SIZE		(64 * 1024)
#define PACK_GRANULES		(EXEC_PACK_SIZE / VMALLOC_EXEC_ALIGN)
#define PACK_WORDS		(PACK_GRANULES / 64)
#define EMPTY_PACKS_KEPT	1

/* The allocator's view of a pack; never inside executable memory. */
struct exec_pack {
	u8		*addr;			/* the read+exec mapping */
	u8		*rw;			/* the read-write alias, never executable */
	off_t		file_off;
	u64		busy[PACK_WORDS];	/* one bit per granule */
	u16		len[PACK_GRANULES];	/* piece length in granules, at its first */
};

/*
 * Packs sorted by address, with what allocation looks at, so that a
 * search through every pack reads one small array.
 */
struct exec_slot {
	u8		*addr;
	struct exec_pack *pack;
	unsigned int	free;		/* free granules */
	unsigned int	hint;		/* no free granule below this one */
	unsigned int	fail_n;		/* no run this long since the last free */
};

static DEFINE_MUTEX(exec_lock);
static struct exec_slot *slots;
static unsigned int nr_slots, slots_cap;
static unsigned int nr_empty;			/* empty packs kept */
static off_t *free_offs;			/* file space of released packs */
static unsigned int nr_free_offs, free_offs_cap;
static int exec_fd = -1;
static off_t exec_file_size;
static size_t page_size;
static struct vmalloc_exec_stats exec_stats;
static unsigned int exec_fail_next;
static bool exec_remap;		/* the CPU caches translations by address */
static bool exec_probed;

static void fill_trap(void *p, size_t len)
{
#if defined(__x86_64__)
	memset(p, 0xcc, len);			/* int3 */
#elif defined(__aarch64__)
	u32 brk = 0xd4200000 | (0x100 << 5);	/* brk #0x100, AARCH64_BREAK_FAULT */
	size_t i;

	for (i = 0; i + 4 <= len; i += 4)
		memcpy((u8 *)p + i, &brk, 4);
	memset((u8 *)p + i, 0, len - i);
#else
	memset(p, 0, len);
#endif
}

static int exec_init(void)
{
	if (exec_fd >= 0)
		return 0;
	page_size = sysconf(_SC_PAGESIZE);
	if (EXEC_PACK_SIZE % page_size)
		return -EINVAL;
	exec_fd = memfd_create("vmalloc_exec", MFD_CLOEXEC);
	return exec_fd < 0 ? -errno : 0;
}

/* --- granule bitmaps --- */

static bool granule_busy(const struct exec_pack *pk, unsigned int g)
{
	return pk->busy[g / 64] & (1ULL << (g % 64));
}

/* First granule at or after @from, below @limit, whose bit is @busy; else @limit. */
static unsigned int granule_next(const struct exec_pack *pk, unsigned int from,
				 unsigned int limit, bool busy)
{
	unsigned int w = from / 64;
	u64 bits;

	if (from >= limit)
		return limit;
	bits = (busy ? pk->busy[w] : ~pk->busy[w]) & (~0ULL << (from % 64));
	while (!bits) {
		if (++w >= DIV_ROUND_UP(limit, 64))
			return limit;
		bits = busy ? pk->busy[w] : ~pk->busy[w];
	}
	return min(w * 64 + (unsigned int)__builtin_ctzll(bits), limit);
}

static void granules_set(struct exec_pack *pk, unsigned int start,
			 unsigned int n, bool busy)
{
	unsigned int g;

	for (g = start; g < start + n; g++) {
		if (busy)
			pk->busy[g / 64] |= 1ULL << (g % 64);
		else
			pk->busy[g / 64] &= ~(1ULL << (g % 64));
	}
}

/* First fit: the lowest run of @n free granules at or after the hint, or -1. */
static int slot_find_run(const struct exec_slot *s, unsigned int n)
{
	unsigned int g = s->hint;

	while (g + n <= PACK_GRANULES) {
		unsigned int start = granule_next(s->pack, g, PACK_GRANULES, false);
		unsigned int end;

		if (start + n > PACK_GRANULES)
			break;
		end = granule_next(s->pack, start, start + n, true);
		if (end == start + n)
			return start;
		g = end;
	}
	return -1;
}

/* --- packs --- */

static bool grow_array(void **arr, unsigned int *cap, unsigned int nr, size_t elem)
{
	unsigned int n = *cap ? *cap * 2 : 16;
	void *p;

	if (nr < *cap)
		return true;
	p = realloc(*arr, n * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = n;
	return true;
}

/* Index of the pack holding @addr, or -1. */
static int slot_of(const void *addr)
{
	int lo = 0, hi = (int)nr_slots - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const u8 *base = slots[mid].addr;

		if ((const u8 *)addr < base)
			hi = mid - 1;
		else if ((const u8 *)addr >= base + EXEC_PACK_SIZE)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

static off_t pack_file_space(void)
{
	off_t off;

	if (nr_free_offs)
		return free_offs[--nr_free_offs];
	if (ftruncate(exec_fd, exec_file_size + EXEC_PACK_SIZE))
		return -1;
	off = exec_file_size;
	exec_file_size += EXEC_PACK_SIZE;
	return off;
}

/* Map a pack's pages twice: trap-filled through the RW alias, then RX. */
static int pack_map(struct exec_pack *pk)
{
	pk->rw = mmap(NULL, EXEC_PACK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      exec_fd, pk->file_off);
	if (pk->rw == MAP_FAILED)
		return -ENOMEM;
	fill_trap(pk->rw, EXEC_PACK_SIZE);
	pk->addr = mmap(NULL, EXEC_PACK_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED,
			exec_fd, pk->file_off);
	if (pk->addr == MAP_FAILED) {
		munmap(pk->rw, EXEC_PACK_SIZE);
		return -ENOMEM;
	}
	return 0;
}

static int exec_poke(struct exec_pack *pk, size_t off, const void *src,
		     size_t len, bool trap);

/*
 * Does the CPU run what was last written through the alias? Run a
 * function returning 1, overwrite it with one returning 2, and run it
 * again. Only JIT architectures can tell; the others never run code.
 */
static void exec_probe(struct exec_pack *pk)
{
#if defined(__x86_64__)
	static const u8 ret[2][6] = {
		{ 0xb8, 1, 0, 0, 0, 0xc3 },		/* mov $1, %eax; ret */
		{ 0xb8, 2, 0, 0, 0, 0xc3 },
	};
#elif defined(__aarch64__)
	static const u32 ret[2][2] = {
		{ 0x52800020, 0xd65f03c0 },		/* mov w0, #1; ret */
		{ 0x52800040, 0xd65f03c0 },
	};
#endif
#if defined(__x86_64__) || defined(__aarch64__)
	int (*fn)(void) = (int (*)(void))pk->addr;

	exec_poke(pk, 0, ret[0], sizeof(ret[0]), false);
	if (fn() == 1) {
		exec_poke(pk, 0, ret[1], sizeof(ret[1]), false);
		exec_remap = fn() != 2;
	} else {
		exec_remap = true;
	}
	exec_poke(pk, 0, NULL, sizeof(ret[0]), true);
	if (exec_remap)	/* drop what the probe left translated */
		mmap(pk->addr, EXEC_PACK_SIZE, PROT_READ | PROT_EXEC,
		     MAP_SHARED | MAP_FIXED, exec_fd, pk->file_off);
#endif
	exec_probed = true;
}

/* A new, trap-filled, executable pack; returns its slot. */
static int pack_new(void)
{
	struct exec_pack *pk = calloc(1, sizeof(*pk));
	struct exec_slot s = { .free = PACK_GRANULES, .fail_n = UINT_MAX };
	unsigned int i;

	if (!pk || !grow_array((void **)&slots, &slots_cap, nr_slots, sizeof(*slots)) ||
	    !grow_array((void **)&free_offs, &free_offs_cap, nr_slots + 1,
			sizeof(*free_offs)))
		goto err;
	pk->file_off = pack_file_space();
	if (pk->file_off < 0)
		goto err;
	if (pack_map(pk)) {
		free_offs[nr_free_offs++] = pk->file_off;
		goto err;
	}
	if (!exec_probed)
		exec_probe(pk);
	s.addr = pk->addr;
	s.pack = pk;
	for (i = nr_slots; i > 0 && slots[i - 1].addr > pk->addr; i--)
		slots[i] = slots[i - 1];
	slots[i] = s;
	nr_slots++;
	nr_empty++;
	exec_stats.pages += EXEC_PACK_SIZE / page_size;
	exec_stats.bytes_exec += EXEC_PACK_SIZE;
	return i;
err:
	free(pk);
	return -1;
}

/* Unmap an empty pack and give its memory back; its file space is reused. */
static void pack_release(unsigned int i)
{
	struct exec_pack *pk = slots[i].pack;

	memmove(&slots[i], &slots[i + 1], (nr_slots - i - 1) * sizeof(*slots));
	nr_slots--;
	munmap(pk->addr, EXEC_PACK_SIZE);
	munmap(pk->rw, EXEC_PACK_SIZE);
	fallocate(exec_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		  pk->file_off, EXEC_PACK_SIZE);
	free_offs[nr_free_offs++] = pk->file_off;	/* room: see pack_new() */
	exec_stats.pages -= EXEC_PACK_SIZE / page_size;
	exec_stats.bytes_exec -= EXEC_PACK_SIZE;
	free(pk);
}

/* Take @n granules of slot @i at @start. */
static void *slot_take(unsigned int i, unsigned int start, unsigned int n)
{
	struct exec_slot *s = &slots[i];

	if (s->free == PACK_GRANULES)
		nr_empty--;
	granules_set(s->pack, start, n, true);
	s->pack->len[start] = n;
	s->free -= n;
	if (start == s->hint)
		s->hint = start + n;
	exec_stats.bytes_used += n * VMALLOC_EXEC_ALIGN;
	exec_stats.allocs++;
	return s->addr + start * VMALLOC_EXEC_ALIGN;
}

/**
 * vmalloc_exec_alloc - allocate trap-filled executable space
 * @size:	bytes, at most a pack
 *
 * Return: the read-only executable address, or ERR_PTR(-EINVAL) for a bad
 * size, ERR_PTR(-ENOSPC) at the cap, ERR_PTR(-ENOMEM) (as the kernel's).
 */
void *vmalloc_exec_alloc(size_t size)
{
	unsigned int n = DIV_ROUND_UP(size, VMALLOC_EXEC_ALIGN), i;
	int start = -1, err = -ENOMEM;
	void *ret;

	mutex_lock(&exec_lock);
	if (exec_init())
		goto fail;
	err = -EINVAL;
	if (!size || size > EXEC_PACK_SIZE)
		goto fail;
	err = -ENOMEM;
	if (exec_fail_next) {
		exec_fail_next--;
		goto fail;
	}
	err = -ENOSPC;
	if (exec_stats.bytes_cap &&
	    exec_stats.bytes_used + n * VMALLOC_EXEC_ALIGN > exec_stats.bytes_cap)
		goto fail;
	err = -ENOMEM;

	for (i = 0; i < nr_slots; i++) {
		if (slots[i].free < n || n >= slots[i].fail_n)
			continue;
		start = slot_find_run(&slots[i], n);
		if (start >= 0)
			break;
		slots[i].fail_n = n;
	}
	if (start < 0) {
		int s = pack_new();

		if (s < 0)
			goto fail;
		i = s;
		start = 0;
	}
	ret = slot_take(i, start, n);
	mutex_unlock(&exec_lock);
	return ret;
fail:
	exec_stats.failed++;
	mutex_unlock(&exec_lock);
	return ERR_PTR(err);
}

/*
 * The text_poke analogue: one copy through the RW alias, then what the
 * CPU needs to run the new bytes.
 */
static int exec_poke(struct exec_pack *pk, size_t off, const void *src,
		     size_t len, bool trap)
{
	if (trap)
		fill_trap(pk->rw + off, len);
	else
		memcpy(pk->rw + off, src, len);

	if (exec_remap) {
		size_t first = off & ~(page_size - 1);
		size_t span = ALIGN(off + len, page_size) - first;

		if (mmap(pk->addr + first, span, PROT_READ | PROT_EXEC,
			 MAP_SHARED | MAP_FIXED, exec_fd,
			 pk->file_off + first) == MAP_FAILED)
			return -ENOMEM;
	}
	__builtin___clear_cache((char *)pk->addr + off, (char *)pk->addr + off + len);
	return 0;
}

/* First granule of the live piece holding granule @g, or -1. */
static int piece_start(const struct exec_pack *pk, unsigned int g)
{
	if (!granule_busy(pk, g))
		return -1;
	while (!pk->len[g] && g > 0 && granule_busy(pk, g - 1))
		g--;
	return pk->len[g] ? (int)g : -1;
}

/**
 * vmalloc_exec_write - copy code into allocated executable space
 * @dst:	inside an allocation from vmalloc_exec_alloc()
 * @src:	the code
 * @len:	bytes; the copy must stay inside the allocation
 *
 * Return: 0, or -EINVAL for a destination outside a live allocation.
 */
int vmalloc_exec_write(void *dst, const void *src, size_t len)
{
	int i, start, ret = -EINVAL;
	struct exec_pack *pk;
	size_t off;

	mutex_lock(&exec_lock);
	i = slot_of(dst);
	if (i < 0)
		goto out;
	pk = slots[i].pack;
	off = (u8 *)dst - pk->addr;
	start = piece_start(pk, off / VMALLOC_EXEC_ALIGN);
	if (start >= 0 &&
	    len <= (start + pk->len[start]) * (size_t)VMALLOC_EXEC_ALIGN - off)
		ret = exec_poke(pk, off, src, len, false);
out:
	mutex_unlock(&exec_lock);
	return ret;
}

/**
 * vmalloc_exec_free - free executable space
 * @addr:	from vmalloc_exec_alloc(), or NULL
 *
 * The caller guarantees that no thread can still be executing the piece:
 * it is trap-filled and reusable at once.
 */
void vmalloc_exec_free(void *addr)
{
	struct exec_slot *s;
	unsigned int g, n;
	size_t off;
	int i;

	if (IS_ERR_OR_NULL(addr))
		return;
	mutex_lock(&exec_lock);
	i = slot_of(addr);
	s = i >= 0 ? &slots[i] : NULL;
	off = s ? (u8 *)addr - s->addr : 0;
	g = off / VMALLOC_EXEC_ALIGN;
	if (WARN_ON(!s || off % VMALLOC_EXEC_ALIGN || !s->pack->len[g]))
		goto out;
	n = s->pack->len[g];
	exec_poke(s->pack, off, NULL, n * VMALLOC_EXEC_ALIGN, true);
	granules_set(s->pack, g, n, false);
	s->pack->len[g] = 0;
	s->free += n;
	s->hint = min(s->hint, g);
	s->fail_n = UINT_MAX;
	exec_stats.bytes_used -= n * VMALLOC_EXEC_ALIGN;
	exec_stats.frees++;
	if (s->free == PACK_GRANULES) {
		if (nr_empty >= EMPTY_PACKS_KEPT)
			pack_release(i);
		else
			nr_empty++;
	}
out:
	mutex_unlock(&exec_lock);
}

/**
 * vmalloc_exec_set_cap - cap the bytes handed out
 * @bytes:	the cap, 0 for none
 *
 * Counts every piece not yet freed (userspace frees have no grace period).
 */
void vmalloc_exec_set_cap(unsigned long bytes)
{
	mutex_lock(&exec_lock);
	exec_stats.bytes_cap = bytes;
	mutex_unlock(&exec_lock);
}

/**
 * vmalloc_exec_get_stats - a snapshot of the counters
 * @s:	output
 */
void vmalloc_exec_get_stats(struct vmalloc_exec_stats *s)
{
	mutex_lock(&exec_lock);
	*s = exec_stats;
	mutex_unlock(&exec_lock);
}

/**
 * vmalloc_exec_fail_next - make the next @n allocations fail (tests)
 * @n:	how many
 */
void vmalloc_exec_fail_next(unsigned int n)
{
	mutex_lock(&exec_lock);
	exec_fail_next = n;
	mutex_unlock(&exec_lock);
}
