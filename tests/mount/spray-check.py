#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check the spray leg's dump of debugfs bkey_jit/code (GUEST-CODE lines).

Passes when (1) some cached unpacker has code and a format whose offset
field carries the ENDBR64 bytes f3 0f 1e fa (the sparse file's extents
node), and (2) in the code of every cached unpacker ENDBR64 and ENDBR32
appear only at the two entry offsets. Prints PASS/FAIL lines, an excerpt
of the sprayed unpacker, and "N passed, N failed".
"""
import re
import sys

ENDBR = (bytes.fromhex("f30f1efa"), bytes.fromhex("f30f1efb"))
PLANTED = 0xFA1E0FF3


def parse(path):
    units, cur = [], None
    with open(path, errors="replace") as f:
        for line in f:
            if not line.startswith("GUEST-CODE: "):
                continue
            line = line[len("GUEST-CODE: "):].rstrip("\n")
            if line.startswith("format "):
                cur = {"format": line, "lines": [line], "code": bytearray(),
                       "entries": None}
                units.append(cur)
                continue
            if cur is None:
                continue
            cur["lines"].append(line)
            m = re.match(r"code \S+ len (\d+) unpack_entry (\d+) pos_entry (\d+)"
                         r"(?: cmp_entry (\d+))?", line)
            if m:
                cur["len"] = int(m.group(1))
                cur["entries"] = tuple(int(g) for g in m.groups()[1:] if g is not None)
            m = re.match(r"([0-9a-f]{4}): ((?:[0-9a-f]{2} ?)+)$", line)
            if m:
                cur["code"] += bytes.fromhex(m.group(2).replace(" ", ""))
    return units


def planted(fmt):
    m = re.search(r"offsets (\d+) (\d+)", fmt)
    if not m:
        return False
    off = int(m.group(2))
    return any((off >> (8 * p)) & 0xFFFFFFFF == PLANTED for p in range(5))


def hits(code, entries):
    out = []
    for pat in ENDBR:
        i = code.find(pat)
        while i >= 0:
            if i not in entries:
                out.append(i)
            i = code.find(pat, i + 1)
    return out


def main():
    units = parse(sys.argv[1])
    passed = failed = 0
    with_code = [u for u in units if u["entries"] is not None]
    sprayed = [u for u in with_code if planted(u["format"])]
    print(f"# {len(units)} unpackers dumped, {len(with_code)} with code, "
          f"{len(sprayed)} compiled for a format carrying f3 0f 1e fa")
    if sprayed:
        passed += 1
        print(f"PASS: JIT code for {len(sprayed)} format(s) whose offset "
              "field carries f3 0f 1e fa")
        for line in sprayed[0]["lines"][:40]:
            print(f"# excerpt: {line}")
    else:
        failed += 1
        print("FAIL: no JIT code for a format carrying f3 0f 1e fa")

    bad = 0
    for u in with_code:
        if len(u["code"]) != u["len"]:
            bad += 1
            print(f"# {u['format']}: {len(u['code'])} bytes parsed, {u['len']} listed")
            continue
        h = hits(u["code"], u["entries"])
        if h:
            bad += 1
            print(f"# {u['format']}: ENDBR at {h}, entries {u['entries']}")
    if with_code and not bad:
        passed += 1
        print(f"PASS: {len(with_code)} unpackers ({2 * len(with_code)} functions) "
              "scanned, ENDBR64/ENDBR32 only at entries, patterns found: 0")
    else:
        failed += 1
        print(f"FAIL: {bad} of {len(with_code)} unpackers with ENDBR away "
              "from the entries (or unparsable)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
