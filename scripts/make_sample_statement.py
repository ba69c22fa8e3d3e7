#!/usr/bin/env python3
"""Writes sample_data/statement.csv: the vendor's itemised statement for October 2026 (billing
day in Asia/Singapore) matching the demo's data, with a few planted discrepancies of each kind.

It reuses the mock's outcome rule (see make_sample_data.py) to know which checks are charged.
Planted: 3 overbilled (11340), 2 unknown to us, 2 duplicates, 1 unknown code (12299),
2 unresolved (11350), 2 underbilled (one near the period's end), 2 amount variances and
1 malformed line.
"""
import csv
import random
from datetime import datetime, timezone, timedelta

from make_sample_data import expected_code, stable_hash

SGT = timezone(timedelta(hours=8))
CHARGED = {200, 12250} | set(range(12202, 12223))


def parse(t):
    t = t.strip()
    if not t:
        return None
    if t.isdigit():
        return datetime.fromtimestamp(int(t) / 1000, timezone.utc)
    return datetime.fromisoformat(t.replace("Z", "+00:00").replace(" ", "T"))


rng = random.Random(7)
seen, checks = set(), []
with open("sample_data/checks.csv", encoding="utf-8-sig", newline="") as f:
    for row in csv.DictReader(f):
        i = row["liveness_id"].strip()
        t = parse(row["created_at"])
        if not i or i in seen or t is None:
            continue
        seen.add(i)
        local = t.astimezone(SGT)
        if local.year == 2026 and local.month == 10:
            checks.append((t, i, expected_code(i)))
checks.sort()


def seq(i):
    return "%020d" % (stable_hash(("seq:" + i).encode()) % 10**19)


def line(t, i, code, amount="0.035"):
    return [t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), i, seq(i), code, amount]


charged = [c for c in checks if c[2] in CHARGED]
omitted = {charged[-1][1], charged[len(charged) // 2][1]}  # underbilled; the first at the period end
rows = [line(*c) for c in charged if c[1] not in omitted]
by = lambda code: [c for c in checks if c[2] == code]
rows += [line(*c) for c in by(11340)[:3]]                    # overbilled
rows += [line(*c) for c in by(11350)[:2]]                    # unresolved
rows += [line(*c) for c in by(12299)[:1]]                    # unknown code
t0 = datetime(2026, 10, 14, 3, 0, tzinfo=timezone.utc)
rows += [line(t0, "ffffffffffffffff00000001", 200), line(t0, "ffffffffffffffff00000002", 12207)]
rows += [list(r) for r in rng.sample(rows[:100], 2)]          # duplicates
for r in rng.sample(rows[100:300], 2):                        # amount variances
    r[4] = "0.05"
rows.sort(key=lambda r: r[0])
rows.insert(len(rows) // 3, ["31/13/2026 25:00", "ffffffffffffffff00000003", "", "200", "0.035"])
with open("sample_data/statement.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["billed_at", "liveness_id", "sequence_id", "code", "amount"])
    w.writerows(rows)
print(len(rows), "lines")
