"""The Markdown table of a bench run, from the lines `measure` appended (label, tab, seconds).

Usage: rates.py RESULTS ROWS [--ref 'LABEL|NAME|WHEN|...']... [--ratio 'A|B']... [--rss FILE]

Each measurement is compared with the first --ref one of whose WHEN substrings is in its label
(a --ref without WHEN takes the rest); --ratio prints rows/s of A over B; --rss prints the
largest peak RSS (KiB, one per line) in FILE.
"""
import argparse

p = argparse.ArgumentParser()
p.add_argument("results")
p.add_argument("rows", type=int)
p.add_argument("--ref", action="append", default=[])
p.add_argument("--ratio", action="append", default=[])
p.add_argument("--rss")
a = p.parse_args()

res = [line.rstrip("\n").split("\t") for line in open(a.results)]
rate = {k: a.rows / float(v) for k, v in res}
refs = [r.split("|") for r in a.ref]


def reference(label):
    for ref in refs:
        if len(ref) == 2 or any(w in label for w in ref[2:]):
            return rate[ref[0]], ref[1]
    raise SystemExit(f"no --ref for {label!r}")


print("| measurement (median of 3) | seconds | rows/s | vs reference |")
print("|---|---|---|---|")
for k, v in res:
    ref, name = reference(k)
    print(f"| {k} | {float(v):.2f} | {rate[k] / 1e3:,.0f} k | {rate[k] / ref:.2f}x {name} |")
if a.ratio:
    print()
for r in a.ratio:
    x, y = r.split("|")
    print(f"{x} / {y}: {rate[x] / rate[y]:.2f}x")
if a.rss:
    peak = max(int(line) for line in open(a.rss) if line.strip().isdigit())
    print(f"peak RSS of datasync across its runs: {peak / 1024:.0f} MiB")
