// SPDX-License-Identifier: GPL-2.0
/*
 * The test eBPF interpreter (ebpf_interp.h). Semantics per the eBPF
 * instruction-set specification: 64-bit registers R0..R10; ALU (32-bit)
 * operations zero the upper half of the destination; the K source is the
 * imm sign-extended to 64 bits (ALU64) or taken as 32 bits (ALU); loads
 * zero-extend; BPF_ST stores the (sign-extended) imm truncated to the
 * access size; LD_IMM64 takes two slots; END TO_LE on a little-endian
 * host truncates to 16/32 bits (64: nothing).
 */
#include <stdarg.h>

#include "tests/ebpf_interp.h"

static int vm_fail(struct ebpf_vm *vm, unsigned int pc, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(vm->err, sizeof(vm->err), "pc %u: ", pc);
	va_start(ap, fmt);
	vsnprintf(vm->err + n, sizeof(vm->err) - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static unsigned int size_bytes(u8 code)
{
	switch (BPF_SIZE(code)) {
	case BPF_B:
		return 1;
	case BPF_H:
		return 2;
	case BPF_W:
		return 4;
	default:
		return 8;
	}
}

/* The address if [addr, addr + n) lies in a region granted for this. */
static void *vm_mem(struct ebpf_vm *vm, u64 addr, unsigned int n, bool write)
{
	unsigned int i;

	if (vm->strict_align && addr % n)
		return NULL;
	for (i = 0; i < vm->nr_regions; i++) {
		const struct ebpf_region *r = &vm->regions[i];
		u64 base = (u64)(unsigned long)r->base;

		if (addr >= base && addr + n <= base + r->len &&
		    (!write || r->writable))
			return (void *)(unsigned long)addr;
	}
	return NULL;
}

static u64 alu(u8 op, u64 dst, u64 src, bool is64, bool *bad)
{
	unsigned int bits = is64 ? 64 : 32;

	switch (op) {
	case BPF_ADD:
		return dst + src;
	case BPF_SUB:
		return dst - src;
	case BPF_MUL:
		return dst * src;
	case BPF_OR:
		return dst | src;
	case BPF_AND:
		return dst & src;
	case BPF_XOR:
		return dst ^ src;
	case BPF_MOV:
		return src;
	case BPF_LSH:
	case BPF_RSH:
		/* The spec masks the count; a lowering never relies on it. */
		if (src >= bits) {
			*bad = true;
			return 0;
		}
		if (op == BPF_LSH)
			return dst << src;
		return is64 ? dst >> src : (u32)dst >> src;
	default:
		*bad = true;
		return 0;
	}
}

/**
 * ebpf_run - run a program
 * @vm:		regions, alignment mode; counts and error out
 * @prog:	the instructions
 * @len:	slots in @prog
 * @r1:		the context argument
 * @r0:		the return value, if not NULL
 *
 * Return: 0, or -EINVAL with @vm->err saying why.
 */
int ebpf_run(struct ebpf_vm *vm, const struct bpf_insn *prog,
	     unsigned int len, u64 r1, u64 *r0)
{
	u64 reg[MAX_BPF_REG] = { 0 };
	u16 init = 1 << BPF_REG_1;
	unsigned int pc = 0;

	reg[BPF_REG_1] = r1;
	vm->executed = 0;
	vm->err[0] = 0;

	while (pc < len) {
		const struct bpf_insn *in = &prog[pc];
		u8 cls = BPF_CLASS(in->code), dst = in->dst_reg, src = in->src_reg;
		unsigned int n = size_bytes(in->code);
		bool bad = false;
		void *p;
		u64 v;

		vm->executed++;
		if (dst >= BPF_REG_10 || src >= BPF_REG_10)
			return vm_fail(vm, pc, "register %u/%u", dst, src);

		switch (cls) {
		case BPF_ALU:
		case BPF_ALU64:
			if (!(init & (1 << dst)) && BPF_OP(in->code) != BPF_MOV)
				return vm_fail(vm, pc, "r%u read before written", dst);
			if (BPF_OP(in->code) == BPF_END) {
				if (cls != BPF_ALU || BPF_SRC(in->code) != BPF_TO_LE)
					return vm_fail(vm, pc, "byte swap");
				if (in->imm == 16)
					reg[dst] = (u16)reg[dst];
				else if (in->imm == 32)
					reg[dst] = (u32)reg[dst];
				else if (in->imm != 64)
					return vm_fail(vm, pc, "END %d", in->imm);
				break;
			}
			if (BPF_SRC(in->code) == BPF_X) {
				if (!(init & (1 << src)))
					return vm_fail(vm, pc, "r%u read before written", src);
				v = reg[src];
			} else {
				if (src)
					return vm_fail(vm, pc, "src_reg with K");
				v = (u64)(s64)in->imm;
			}
			if (in->off)
				return vm_fail(vm, pc, "ALU off %d", in->off);
			if (cls == BPF_ALU)
				reg[dst] = (u32)alu(BPF_OP(in->code), (u32)reg[dst],
						    (u32)v, false, &bad);
			else
				reg[dst] = alu(BPF_OP(in->code), reg[dst], v, true,
					       &bad);
			if (bad)
				return vm_fail(vm, pc, "ALU op %#x imm %d",
					       in->code, in->imm);
			init |= 1 << dst;
			break;
		case BPF_LD:
			if (in->code != (BPF_LD | BPF_DW | BPF_IMM) || src ||
			    pc + 1 >= len || prog[pc + 1].code ||
			    prog[pc + 1].dst_reg || prog[pc + 1].src_reg ||
			    prog[pc + 1].off)
				return vm_fail(vm, pc, "LD %#x", in->code);
			reg[dst] = (u32)in->imm |
				   ((u64)(u32)prog[pc + 1].imm << 32);
			init |= 1 << dst;
			pc++;
			break;
		case BPF_LDX:
			if (BPF_MODE(in->code) != BPF_MEM)
				return vm_fail(vm, pc, "LDX mode %#x", in->code);
			if (!(init & (1 << src)))
				return vm_fail(vm, pc, "r%u read before written", src);
			p = vm_mem(vm, reg[src] + in->off, n, false);
			if (!p)
				return vm_fail(vm, pc, "load %u at r%u%+d: outside or misaligned",
					       n, src, in->off);
			v = 0;
			memcpy(&v, p, n);
			reg[dst] = v;
			init |= 1 << dst;
			break;
		case BPF_ST:
		case BPF_STX:
			if (BPF_MODE(in->code) != BPF_MEM)
				return vm_fail(vm, pc, "ST mode %#x", in->code);
			if (!(init & (1 << dst)))
				return vm_fail(vm, pc, "r%u read before written", dst);
			if (cls == BPF_STX && !(init & (1 << src)))
				return vm_fail(vm, pc, "r%u read before written", src);
			if (cls == BPF_ST && src)
				return vm_fail(vm, pc, "src_reg with ST");
			v = cls == BPF_STX ? reg[src] : (u64)(s64)in->imm;
			p = vm_mem(vm, reg[dst] + in->off, n, true);
			if (!p)
				return vm_fail(vm, pc, "store %u at r%u%+d: outside or misaligned",
					       n, dst, in->off);
			memcpy(p, &v, n);
			break;
		case BPF_JMP:
			if (BPF_SRC(in->code) == BPF_X &&
			    (BPF_OP(in->code) == BPF_JEQ ||
			     BPF_OP(in->code) == BPF_JNE ||
			     BPF_OP(in->code) == BPF_JGT)) {
				bool taken;

				/* Forward only: every program terminates. */
				if (in->off < 0 || in->imm)
					return vm_fail(vm, pc, "jump off %d", in->off);
				if (!(init & (1 << dst)) || !(init & (1 << src)))
					return vm_fail(vm, pc, "r%u/r%u read before written",
						       dst, src);
				if (BPF_OP(in->code) == BPF_JEQ)
					taken = reg[dst] == reg[src];
				else if (BPF_OP(in->code) == BPF_JNE)
					taken = reg[dst] != reg[src];
				else
					taken = reg[dst] > reg[src];
				if (taken)
					pc += in->off;
				break;
			}
			if (in->code != (BPF_JMP | BPF_EXIT) || dst || src ||
			    in->off || in->imm)
				return vm_fail(vm, pc, "JMP %#x", in->code);
			if (!(init & (1 << BPF_REG_0)) && vm->want_r0)
				return vm_fail(vm, pc, "r0 read before written");
			if (r0)
				*r0 = reg[BPF_REG_0];
			return 0;
		default:
			return vm_fail(vm, pc, "class %u", cls);
		}
		pc++;
	}
	return vm_fail(vm, pc, "ran off the end");
}
