/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmalloc_exec: a strictly W^X allocator of small pieces of executable
 * memory for in-kernel JITs.
 *
 * Pieces are packed into shared packs that are read-only and executable
 * from the moment they are handed out: code is built in an ordinary
 * (non-executable) buffer and copied in with vmalloc_exec_write(), which
 * goes through the architecture's text-copy primitive and does the cache
 * maintenance. A piece is freed once no CPU can be executing it (the
 * caller's guarantee): it is refilled with trap instructions and reused.
 *
 * The kernel implementation is vmalloc_exec.c; the userspace build of
 * bkey-jit has an mmap-based one with the same API (user/vmalloc_exec_user.c).
 */
#ifndef _VMALLOC_EXEC_H
#define _VMALLOC_EXEC_H

#include "compat/bkey_jit_compat.h"

/* Allocation granule: every piece starts on this boundary. */
#define VMALLOC_EXEC_ALIGN	16
/* Pieces are packed into packs of this size; a piece fits in one. */
#define VMALLOC_EXEC_PACK_SIZE	(256 * 1024)

struct vmalloc_exec_stats {
	unsigned long	bytes_used;	/* bytes handed out, rounded to granules */
	unsigned long	bytes_cap;	/* 0: no cap */
	unsigned long	pages;		/* executable pages held */
	unsigned long	bytes_exec;	/* executable bytes held (whole packs) */
	unsigned long	allocs;
	unsigned long	frees;
	unsigned long	failed;		/* allocations refused: no memory or cap */
};

#if !defined(__KERNEL__) || defined(CONFIG_VMALLOC_EXEC)	/* bool: y or unset */

void *vmalloc_exec_alloc(size_t size);
int vmalloc_exec_write(void *dst, const void *src, size_t len);
void vmalloc_exec_free(void *addr);
void vmalloc_exec_set_cap(unsigned long bytes);
void vmalloc_exec_get_stats(struct vmalloc_exec_stats *s);

/* Fault injection for tests: the next @n allocations fail. */
void vmalloc_exec_fail_next(unsigned int n);

#else

/*
 * A kernel without CONFIG_VMALLOC_EXEC (an architecture with no text-copy
 * primitive wired up, or no STRICT_KERNEL_RWX): there is never executable
 * memory, so every user falls back to its non-JIT path. Inline, so nothing
 * of the allocator is linked in and nothing needs exporting.
 */
static inline void *vmalloc_exec_alloc(size_t size)
{
	return ERR_PTR(-ENOMEM);
}

static inline int vmalloc_exec_write(void *dst, const void *src, size_t len)
{
	return -EOPNOTSUPP;
}

static inline void vmalloc_exec_free(void *addr)
{
}

static inline void vmalloc_exec_set_cap(unsigned long bytes)
{
}

static inline void vmalloc_exec_get_stats(struct vmalloc_exec_stats *s)
{
	memset(s, 0, sizeof(*s));
}

static inline void vmalloc_exec_fail_next(unsigned int n)
{
}

#endif /* !__KERNEL__ || CONFIG_VMALLOC_EXEC */

#endif /* _VMALLOC_EXEC_H */
