#!/usr/bin/env python3
"""Summarize measure.sh's output files: per side the median (min-max) of
each figure over all runs, and the CPU per request against HAProxy's and
the goroutines engine's (gor), paired within a file (a side's i-th run
with the reference's i-th run there, i.e. the same round): median
[quartiles] of those ratios."""
import statistics
import sys

rows = {}
REFS = ["haproxy", "gor"]
ratios = {r: {} for r in REFS}
for path in sys.argv[1:]:
    here = {}
    for line in open(path):
        f = line.split()
        if len(f) < 3 or "=" not in f[2]:
            continue
        kv = {k: float(v) for k, v in (x.split("=") for x in f[2:])}
        here.setdefault(f[0], []).append(kv)
        rows.setdefault(f[0], []).append(kv)
    for ref in REFS:
        for side, rs in here.items():
            if ref in here:
                ratios[ref].setdefault(side, []).extend(a["cpu_us"] / b["cpu_us"] for a, b in zip(rs, here[ref]))
keys = ["rps", "cpu_us", "user_us", "sys_us", "sysc", "cs", "load"]
print("| side | runs | " + " | ".join(keys) + "".join(" | cpu/%s" % r for r in REFS) + " |")
print("|" + "---|" * (len(keys) + 2 + len(REFS)))
for side, rs in rows.items():
    cells = []
    for k in keys:
        v = sorted(r[k] for r in rs)
        fmt = "%.0f" if k == "rps" else "%.2f"
        cells.append((fmt + " (" + fmt + "-" + fmt + ")") % (statistics.median(v), v[0], v[-1]))
    for ref in REFS:
        q = sorted(ratios[ref].get(side, []))
        if len(q) >= 2:
            q1, _, q3 = statistics.quantiles(q, n=4)
            cells.append("%.3f [%.3f-%.3f]" % (statistics.median(q), q1, q3))
        else:
            cells.append("%.3f" % q[0] if q else "-")
    print("| %s | %d | %s |" % (side, len(rs), " | ".join(cells)))
