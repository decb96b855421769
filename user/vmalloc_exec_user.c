// SPDX-License-Identifier: GPL-2.0
/*
 * vmalloc_exec for the userspace build: the same API as the kernel's, and
 * the same W^X discipline.
 *
 * Pages live in a memfd. A new page is mapped read-write, trap-filled and
 * sealed read+exec with mprotect() before anything can run in it; from
 * then on its executable mapping is never writable. Code is copied in the
 * way the kernel's text_poke does it: through a short-lived second,
 * read-write, non-executable mapping of the same page. The executable
 * mapping is then replaced in place (MAP_FIXED, same file page), which
 * makes binary translators such as qemu-user drop translations of the old
 * bytes; native CPUs only need the cache flush.
 *
 * Userspace has no RCU: a piece is reusable as soon as it is freed, and
 * the caller (bkey_jit's refcounted cache) guarantees no thread still runs
 * it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmalloc_exec.h"

#define GRANULES_PER_PAGE_MAX	(65536 / VMALLOC_EXEC_ALIGN)
#define GRANULE_CONT		0xffff

struct exec_page {
	struct exec_page	*next;
	u8			*addr;		/* the read+exec mapping */
	off_t			file_off;
	unsigned int		used;		/* granules in use */
	/* Per granule: 0 free, GRANULE_CONT inside a piece, else the piece's length in granules. */
	u16			busy[GRANULES_PER_PAGE_MAX];
};

static DEFINE_MUTEX(exec_lock);
static struct exec_page *exec_pages;
static int exec_fd = -1;
static off_t exec_file_size;
static size_t page_size;
static struct vmalloc_exec_stats exec_stats;
static unsigned int exec_fail_next;

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
	if (page_size / VMALLOC_EXEC_ALIGN > GRANULES_PER_PAGE_MAX)
		return -EINVAL;
	exec_fd = memfd_create("vmalloc_exec", MFD_CLOEXEC);
	return exec_fd < 0 ? -errno : 0;
}

/* Map a page of the file, trap-fill it while writable, seal it RX. */
static struct exec_page *exec_page_new(void)
{
	struct exec_page *pg = calloc(1, sizeof(*pg));
	void *p;

	if (!pg)
		return NULL;
	pg->file_off = exec_file_size;
	if (ftruncate(exec_fd, exec_file_size + page_size))
		goto err;
	p = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, exec_fd,
		 pg->file_off);
	if (p == MAP_FAILED)
		goto err;
	fill_trap(p, page_size);
	if (mprotect(p, page_size, PROT_READ | PROT_EXEC)) {
		munmap(p, page_size);
		goto err;
	}
	exec_file_size += page_size;
	pg->addr = p;
	pg->next = exec_pages;
	exec_pages = pg;
	exec_stats.pages++;
	return pg;
err:
	free(pg);
	return NULL;
}

static void exec_page_release(struct exec_page *pg)
{
	struct exec_page **p = &exec_pages;

	while (*p != pg)
		p = &(*p)->next;
	*p = pg->next;
	munmap(pg->addr, page_size);
	fallocate(exec_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		  pg->file_off, page_size);
	exec_stats.pages--;
	free(pg);
}

static int exec_page_find_run(struct exec_page *pg, unsigned int n)
{
	unsigned int nr = page_size / VMALLOC_EXEC_ALIGN, i, run = 0;

	for (i = 0; i < nr; i++) {
		run = pg->busy[i] ? 0 : run + 1;
		if (run == n)
			return i + 1 - n;
	}
	return -1;
}

/**
 * vmalloc_exec_alloc - allocate trap-filled executable space
 * @size:	bytes, at most a page
 *
 * Return: the read-only executable address, or NULL.
 */
void *vmalloc_exec_alloc(size_t size)
{
	unsigned int n = DIV_ROUND_UP(size, VMALLOC_EXEC_ALIGN), i;
	struct exec_page *pg;
	void *ret = NULL;
	int start = -1;

	mutex_lock(&exec_lock);
	if (exec_init() || !size || size > page_size)
		goto fail;
	if (exec_fail_next) {
		exec_fail_next--;
		goto fail;
	}
	if (exec_stats.bytes_cap &&
	    exec_stats.bytes_used + n * VMALLOC_EXEC_ALIGN > exec_stats.bytes_cap)
		goto fail;

	for (pg = exec_pages; pg; pg = pg->next) {
		start = exec_page_find_run(pg, n);
		if (start >= 0)
			break;
	}
	if (!pg) {
		pg = exec_page_new();
		if (!pg)
			goto fail;
		start = 0;
	}
	pg->busy[start] = n;
	for (i = 1; i < n; i++)
		pg->busy[start + i] = GRANULE_CONT;
	pg->used += n;
	exec_stats.bytes_used += n * VMALLOC_EXEC_ALIGN;
	exec_stats.allocs++;
	ret = pg->addr + start * VMALLOC_EXEC_ALIGN;
	mutex_unlock(&exec_lock);
	return ret;
fail:
	exec_stats.failed++;
	mutex_unlock(&exec_lock);
	return NULL;
}

static struct exec_page *exec_page_of(const void *addr)
{
	struct exec_page *pg;

	for (pg = exec_pages; pg; pg = pg->next)
		if ((const u8 *)addr >= pg->addr &&
		    (const u8 *)addr < pg->addr + page_size)
			return pg;
	return NULL;
}

/* The text_poke analogue: write through a temporary RW alias. */
static int exec_poke(struct exec_page *pg, size_t off, const void *src,
		     size_t len, bool trap)
{
	u8 *alias = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 exec_fd, pg->file_off);

	if (alias == MAP_FAILED)
		return -ENOMEM;
	if (trap)
		fill_trap(alias + off, len);
	else
		memcpy(alias + off, src, len);
	munmap(alias, page_size);

	if (mmap(pg->addr, page_size, PROT_READ | PROT_EXEC,
		 MAP_SHARED | MAP_FIXED, exec_fd, pg->file_off) == MAP_FAILED)
		return -ENOMEM;
	__builtin___clear_cache((char *)pg->addr + off,
				(char *)pg->addr + off + len);
	return 0;
}

/* Start granule of the live piece holding @addr, or -1. */
static int exec_piece_start(struct exec_page *pg, const void *addr)
{
	int g = ((const u8 *)addr - pg->addr) / VMALLOC_EXEC_ALIGN;

	while (g > 0 && pg->busy[g] == GRANULE_CONT)
		g--;
	return pg->busy[g] && pg->busy[g] != GRANULE_CONT ? g : -1;
}

/* Bytes of the live piece starting exactly at @addr, or 0. */
static size_t exec_alloc_len(struct exec_page *pg, const void *addr)
{
	size_t off = (const u8 *)addr - pg->addr;
	int g = exec_piece_start(pg, addr);

	if (off % VMALLOC_EXEC_ALIGN || g != (int)(off / VMALLOC_EXEC_ALIGN))
		return 0;
	return pg->busy[g] * (size_t)VMALLOC_EXEC_ALIGN;
}

/* Does [@dst, @dst + @len) lie inside one live piece? */
static bool exec_range_ok(struct exec_page *pg, const void *dst, size_t len)
{
	int g = exec_piece_start(pg, dst);
	const u8 *end;

	if (g < 0)
		return false;
	end = pg->addr + (g + pg->busy[g]) * VMALLOC_EXEC_ALIGN;
	return len <= (size_t)(end - (const u8 *)dst);
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
	struct exec_page *pg;
	int ret = -EINVAL;

	mutex_lock(&exec_lock);
	pg = exec_page_of(dst);
	if (pg && exec_range_ok(pg, dst, len))
		ret = exec_poke(pg, (u8 *)dst - pg->addr, src, len, false);
	mutex_unlock(&exec_lock);
	return ret;
}

/**
 * vmalloc_exec_free - free executable space
 * @addr:	from vmalloc_exec_alloc(), or NULL
 */
void vmalloc_exec_free(void *addr)
{
	struct exec_page *pg;
	size_t len, first, i;

	if (!addr)
		return;
	mutex_lock(&exec_lock);
	pg = exec_page_of(addr);
	len = pg ? exec_alloc_len(pg, addr) : 0;
	if (WARN_ON(!len))
		goto out;
	exec_poke(pg, (u8 *)addr - pg->addr, NULL, len, true);
	first = ((u8 *)addr - pg->addr) / VMALLOC_EXEC_ALIGN;
	for (i = 0; i < len / VMALLOC_EXEC_ALIGN; i++)
		pg->busy[first + i] = 0;
	pg->used -= len / VMALLOC_EXEC_ALIGN;
	exec_stats.bytes_used -= len;
	exec_stats.frees++;
	if (!pg->used)
		exec_page_release(pg);
out:
	mutex_unlock(&exec_lock);
}

/**
 * vmalloc_exec_set_cap - cap the bytes handed out
 * @bytes:	the cap, 0 for none
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
 * vmalloc_exec_barrier - wait for deferred frees (none in userspace)
 */
void vmalloc_exec_barrier(void)
{
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
