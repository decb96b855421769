#!/usr/bin/env python3
"""Check a kernel console log for KUnit results and kernel health.

usage: ktap-check.py LOG [--expect SUITE ...] [--no-wx] [--boot-marker TEXT]

Parses KTAP as printed by built-in KUnit suites at boot (printk timestamps
and interleaved kernel messages are tolerated): top-level `ok N suite` /
`not ok N suite`, nested cases, parameterised sub-cases, `# SKIP`.
Prints one line per suite and per failed case, then `N passed, N failed,
N skipped` (test cases). Exit 1 on: any `not ok`; an expected suite (fnmatch
pattern) missing; a plan (`1..N`) not met; crash/oops/panic/BUG:/WARNING:/
KASAN/kmemleak reports; boot never reaching the marker; the DEBUG_WX line
"Checked W+X mappings: passed" missing (unless --no-wx).
"""
import argparse
import fnmatch
import re
import sys

TS = re.compile(r'^\[\s*\d+\.\d+\]\s?')
RESULT = re.compile(r'^(ok|not ok) (\d+)(?: (?:- )?(.*?))?(?:\s+#\s*(SKIP|TODO)\b\s*(.*))?$')
PLAN = re.compile(r'^1\.\.(\d+)$')
BAD = re.compile(r'Kernel panic|Oops|BUG:|WARNING:|kernel BUG at|general protection fault|'
                 r'Unable to handle kernel|Internal error:|Call Trace:|KASAN:|UBSAN:|'
                 r'unreferenced object 0x|possible recursive locking|circular locking|'
                 r'W\+X mappings: FAILED|RCU stall|soft lockup|hung_task|blocked for more than')
WX_OK = 'Checked W+X mappings: passed, no W+X pages found'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('log')
    ap.add_argument('--expect', action='append', default=[], metavar='SUITE',
                    help='suite that must be present (fnmatch pattern; repeatable, '
                         'or several separated by spaces)')
    ap.add_argument('--no-wx', action='store_true', help='do not require the DEBUG_WX line')
    ap.add_argument('--boot-marker', default='bkey-jit-init: exit 0',
                    help='text proving the boot reached userspace and ended cleanly')
    a = ap.parse_args()

    with open(a.log, errors='replace') as f:
        raw = [TS.sub('', l.rstrip('\r\n').replace('\r', '')) for l in f]

    suites = []          # (name, ok, skipped)
    cases = {}           # suite -> list of (name, status)
    cur = []             # cases seen at depth 1 since the last suite result
    diag = []            # '#' lines at depth >= 1, for failed-case context
    fdiag = {}
    plan = None
    problems = []
    for line in raw:
        stripped = line.lstrip(' ')
        depth = (len(line) - len(stripped)) // 4
        if BAD.search(line):
            problems.append('kernel: ' + line.strip())
        m = PLAN.match(stripped)
        if m and depth == 0 and plan is None:
            plan = int(m.group(1))
            continue
        m = RESULT.match(stripped)
        if not m:
            # context for a failing case: its expectation messages are
            # indented like the case, not all of them start with '#'
            if depth >= 1 and stripped and not stripped.startswith(('KTAP version', '# Subtest:', '1..')):
                diag.append(stripped)
                diag = diag[-20:]
            continue
        ok = m.group(1) == 'ok'
        name = (m.group(3) or '?').strip()
        skip = m.group(4) == 'SKIP'
        status = 'skip' if skip else ('pass' if ok else 'fail')
        if depth == 1:
            cur.append((name, status))
            if status == 'fail':
                fdiag[name] = diag[-8:]
            diag = []
        elif depth == 0:
            suites.append((name, status))
            cases[name] = cur
            if status == 'fail' and not any(s == 'fail' for _, s in cur):
                cur.append(('(suite)', 'fail'))  # init failure, crash etc.
            for cname, cs in cur:
                if cs == 'fail':
                    fdiag.setdefault(name + '.' + cname, fdiag.pop(cname, []))
            cur = []
        # depth >= 2: parameterised sub-cases; their case line sums them up

    npass = nfail = nskip = 0
    for name, status in suites:
        cs = cases[name]
        p = sum(s == 'pass' for _, s in cs)
        fl = sum(s == 'fail' for _, s in cs)
        sk = sum(s == 'skip' for _, s in cs)
        npass, nfail, nskip = npass + p, nfail + fl, nskip + sk
        print(f'{status.upper():4} {name} ({p} passed, {fl} failed, {sk} skipped)')
        for cname, s in cs:
            if s == 'fail':
                print(f'  FAIL {name}.{cname}')
                for d in fdiag.get(name + '.' + cname, []):
                    print(f'       {d}')
        if status == 'fail':
            problems.append(f'suite {name} failed')

    expect = [e for x in a.expect for e in x.split()]
    for e in expect:
        if not any(fnmatch.fnmatchcase(n, e) for n, _ in suites):
            problems.append(f'expected suite {e} did not run')
    if plan is not None and len(suites) != plan:
        problems.append(f'KTAP plan 1..{plan} but {len(suites)} suites reported (crash mid-run?)')
    if plan is None and expect:
        problems.append('no KTAP output in the log (KUnit not built in, or boot died early)')
    text = '\n'.join(raw)
    if not a.no_wx and WX_OK not in text:
        problems.append(f'DEBUG_WX line "{WX_OK}" missing')
    if a.boot_marker and a.boot_marker not in text:
        problems.append(f'boot never completed (no "{a.boot_marker}")')

    for p in dict.fromkeys(problems):
        print('PROBLEM ' + p)
    print(f'{npass} passed, {nfail} failed, {nskip} skipped')
    return 1 if problems or nfail else 0


if __name__ == '__main__':
    sys.exit(main())
