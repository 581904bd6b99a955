#!/usr/bin/env python3
"""Summarize measure.sh's lines: per side the median (min-max) of each
figure, and the CPU per request against HAProxy's (the i-th run of a side
paired with HAProxy's i-th run, i.e. the same round): median (min-max)."""
import statistics
import sys

rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 3 or "=" not in f[2]:
        continue
    kv = dict(x.split("=") for x in f[2:])
    rows.setdefault(f[0], []).append({k: float(v) for k, v in kv.items()})
keys = ["rps", "cpu_us", "user_us", "sys_us", "sysc", "cs", "load"]
print("| side | runs | " + " | ".join(keys) + " | cpu/haproxy (paired) |")
print("|" + "---|" * (len(keys) + 3))
for side, rs in rows.items():
    cells = []
    for k in keys:
        v = sorted(r[k] for r in rs)
        m = statistics.median(v)
        fmt = "%.0f" if k == "rps" else "%.2f"
        cells.append((fmt + " (" + fmt + "-" + fmt + ")") % (m, v[0], v[-1]))
    rat = "-"
    if "haproxy" in rows:
        q = sorted(a["cpu_us"] / b["cpu_us"] for a, b in zip(rs, rows["haproxy"]))
        rat = "%.3f (%.3f-%.3f)" % (statistics.median(q), q[0], q[-1])
    print("| %s | %d | %s | %s |" % (side, len(rs), " | ".join(cells), rat))
