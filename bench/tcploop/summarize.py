#!/usr/bin/env python3
"""Medians (min-max) per side of measure.sh's lines; ratio to haproxy."""
import re
import statistics
import sys

rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 3 or "=" not in f[2]:
        continue
    kv = dict(x.split("=") for x in f[2:])
    rows.setdefault(f[0], []).append({k: float(v) for k, v in kv.items()})
keys = ["rps", "cpu_us", "cpu0_us", "user_us", "sys_us", "sysc", "cs", "load"]
ref = statistics.median(r["cpu_us"] for r in rows["haproxy"]) if "haproxy" in rows else None
print("| side | n | " + " | ".join(keys) + " | cpu/haproxy |")
print("|" + "---|" * (len(keys) + 3))
for side, rs in rows.items():
    cells = []
    for k in keys:
        v = sorted(r[k] for r in rs)
        m = statistics.median(v)
        fmt = "%.0f" if k == "rps" else "%.2f"
        cells.append((fmt + " (" + fmt + "-" + fmt + ")") % (m, v[0], v[-1]))
    rat = "%.3f" % (statistics.median(r["cpu_us"] for r in rs) / ref) if ref else "-"
    print("| %s | %d | %s | %s |" % (side, len(rs), " | ".join(cells), rat))
