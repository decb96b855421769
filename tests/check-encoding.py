#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Disassemble every emitted function with objdump and check the encoding.

Input: the file test_unpack --dump writes, one function per line:
    NR_INSNS LEN BYTE BYTE ...   (from the function entry to its end)
Checks, per function: objdump decodes every byte (no "(bad)", no ".inst",
no "undefined"), the decoded instructions end exactly at the function's
end, and their number equals what the emitter reported.
Prints one line per failure (at most 20) and ends with "N passed, N failed".
"""
import subprocess
import sys
import tempfile

OBJDUMP = {
    "x86": ["objdump", "-D", "-b", "binary", "-mi386:x86-64"],
    "arm64": ["aarch64-linux-gnu-objdump", "-D", "-b", "binary", "-maarch64"],
}
BAD = ("(bad)", ".inst", "undefined", ".byte", ".word")


def main():
    arch, dump = sys.argv[1], sys.argv[2]
    funcs, blob = [], bytearray()
    with open(dump) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2:
                continue
            insns, length = int(parts[0]), int(parts[1])
            code = bytes(int(b, 16) for b in parts[2:])
            if len(code) != length:
                print(f"bad record at offset {len(blob)}")
                continue
            funcs.append((len(blob), length, insns))
            blob += code
    with tempfile.NamedTemporaryFile(suffix=".bin") as tmp:
        tmp.write(blob)
        tmp.flush()
        out = subprocess.run(OBJDUMP[arch] + [tmp.name], check=True,
                             capture_output=True, text=True).stdout

    # address -> (bad?) for every decoded instruction
    decoded = {}
    for line in out.splitlines():
        head, sep, rest = line.partition(":\t")
        if not sep:
            continue
        try:
            addr = int(head.strip(), 16)
        except ValueError:
            continue
        fields = rest.split("\t")
        if len(fields) < 2:     # continuation line of a long x86 insn
            continue
        text = fields[1]
        decoded[addr] = any(b in text for b in BAD)

    passed = failed = 0
    addrs = sorted(decoded)
    import bisect
    for start, length, insns in funcs:
        lo = bisect.bisect_left(addrs, start)
        hi = bisect.bisect_left(addrs, start + length)
        mine = addrs[lo:hi]
        bad = [a for a in mine if decoded[a]]
        ok = (mine and mine[0] == start and not bad and len(mine) == insns)
        if ok:
            passed += 1
        else:
            failed += 1
            if failed <= 20:
                print(f"FAIL function at {start:#x}: {len(mine)} insns decoded, "
                      f"{insns} reported, {len(bad)} undecodable")
    print(f"# {arch}: {len(funcs)} functions, {len(blob)} bytes disassembled")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
