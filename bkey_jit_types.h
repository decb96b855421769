/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The btree key types bkey-jit unpacks. In the kernel they come from
 * bcachefs itself; the userspace build carries binary-identical copies of
 * Linux 6.12 fs/bcachefs/bcachefs_format.h. The static asserts at the end
 * hold for both, so a drift on either side fails the build.
 */
#ifndef _BKEY_JIT_TYPES_H
#define _BKEY_JIT_TYPES_H

#include "compat/bkey_jit_compat.h"

#ifdef __KERNEL__
#include "bcachefs_format.h"
#else

struct bpos {
	__u32		snapshot;
	__u64		offset;
	__u64		inode;
} __packed __aligned(4);

struct bversion {
	__u64		lo;
	__u32		hi;
} __packed __aligned(4);

struct bkey {
	__u8		u64s;
	__u8		format:7,
			needs_whiteout:1;
	__u8		type;
	__u8		pad[1];
	struct bversion	bversion;
	__u32		size;
	struct bpos	p;
} __packed __aligned(8);

struct bkey_packed {
	__u64		_data[0];
	__u8		u64s;
	__u8		format:7,
			needs_whiteout:1;
	__u8		type;
	__u8		key_start[0];
	__u8		pad[sizeof(struct bkey) - 3];
} __packed __aligned(8);

struct bkey_format {
	__u8		key_u64s;
	__u8		nr_fields;
	__u8		bits_per_field[6];
	__le64		field_offset[6];
};

#define BKEY_U64s			(sizeof(struct bkey) / sizeof(__u64))
#define BKEY_U64s_MAX			U8_MAX
#define BKEY_VAL_U64s_MAX		(BKEY_U64s_MAX - BKEY_U64s)
#define KEY_PACKED_BITS_START		24
#define KEY_FORMAT_LOCAL_BTREE		0
#define KEY_FORMAT_CURRENT		1

enum bch_bkey_fields {
	BKEY_FIELD_INODE,
	BKEY_FIELD_OFFSET,
	BKEY_FIELD_SNAPSHOT,
	BKEY_FIELD_SIZE,
	BKEY_FIELD_VERSION_HI,
	BKEY_FIELD_VERSION_LO,
	BKEY_NR_FIELDS,
};

#endif /* !__KERNEL__ */

/* The layout every emitter and the generic unpack write to. */
static_assert(sizeof(struct bpos) == 20);
static_assert(offsetof(struct bpos, snapshot) == 0);
static_assert(offsetof(struct bpos, offset) == 4);
static_assert(offsetof(struct bpos, inode) == 12);
static_assert(sizeof(struct bversion) == 12);
static_assert(offsetof(struct bversion, lo) == 0);
static_assert(offsetof(struct bversion, hi) == 8);
static_assert(sizeof(struct bkey) == 40);
static_assert(__alignof__(struct bkey) == 8);
static_assert(offsetof(struct bkey, u64s) == 0);
static_assert(offsetof(struct bkey, type) == 2);
static_assert(offsetof(struct bkey, pad) == 3);
static_assert(offsetof(struct bkey, bversion) == 4);
static_assert(offsetof(struct bkey, size) == 16);
static_assert(offsetof(struct bkey, p) == 20);
static_assert(sizeof(struct bkey_packed) == 40);
static_assert(__alignof__(struct bkey_packed) == 8);
static_assert(offsetof(struct bkey_packed, key_start) == 3);
static_assert(sizeof(struct bkey_format) == 56);
static_assert(offsetof(struct bkey_format, bits_per_field) == 2);
static_assert(offsetof(struct bkey_format, field_offset) == 8);
static_assert(BKEY_U64s == 5);
static_assert(BKEY_NR_FIELDS == 6);
static_assert(KEY_PACKED_BITS_START == 24);

/* Byte 1 of a key header: format in bits 0-6, needs_whiteout in bit 7. */
#define BKEY_JIT_HDR_FORMAT_MASK	0x7f
#define BKEY_JIT_HDR_WHITEOUT_MASK	0x80

#endif /* _BKEY_JIT_TYPES_H */
