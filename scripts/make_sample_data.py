#!/usr/bin/env python3
"""Writes sample_data/checks.csv: a realistic, deliberately messy id export for the demo.

Deterministic (fixed seed). It knows the embedded mock's outcome rule (src/mock.rs,
`expected_code`) only to plant an injection-attack spike on one day, so the attack report has
something real to find; every number the demo prints still comes from the real pipeline.
"""
import csv
import io
import random
from datetime import datetime, timedelta, timezone

M = (1 << 64) - 1


def stable_hash(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & M
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & M
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & M
    return h ^ (h >> 31)


def expected_code(i: str) -> int:
    h = stable_hash(i.encode())
    b = h % 1000
    if b <= 724:
        return 200
    if b <= 904:
        return 12202 + (h // 1000) % 21
    if b <= 934:
        return 12250
    if b <= 949:
        return 11350
    if b <= 974:
        return 11340
    return 12299


def main():
    INJECTION = {12215, 12216, 12219, 12222}
    rng = random.Random(20261125)
    SGT = timezone(timedelta(hours=8))
    start = datetime(2026, 10, 1, tzinfo=SGT)
    channels = ["android", "ios", "web", "partner-api"]
    weights = [45, 30, 20, 5]
    versions = {"android": ["5.2.0", "5.3.1"], "ios": ["5.2.0", "5.3.0"], "web": ["web"], "partner-api": ["v1"]}
    countries = ["ID", "SG", "PH", "MY"]


    def new_id() -> str:
        return "%024x" % rng.getrandbits(96)


    def fmt_time(t: datetime, style: int) -> str:
        if style == 0:
            return t.isoformat()
        if style == 1:
            return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if style == 2:
            return t.strftime("%Y-%m-%d %H:%M:%S+08:00")
        return str(int(t.timestamp() * 1000))


    rows = []
    for n in range(3000):
        t = start + timedelta(seconds=rng.randrange(31 * 86400))
        ch = rng.choices(channels, weights)[0]
        rows.append([new_id(), fmt_time(t, rng.randrange(4)), ch, rng.choice(versions[ch]),
                     rng.choice(countries), "u%05d" % rng.randrange(20000), ""])

    # A burst of injection attacks through the partner API on 21 October.
    planted = 0
    while planted < 45:
        i = new_id()
        if expected_code(i) in INJECTION:
            t = datetime(2026, 10, 21, 9, tzinfo=SGT) + timedelta(seconds=rng.randrange(10 * 3600))
            rows.append([i, fmt_time(t, 0), "partner-api", "v1", "ID", "u%05d" % rng.randrange(20000), ""])
            planted += 1

    rng.shuffle(rows)
    # Messiness real exports have: padded ids, blank ids, duplicates, a note with a comma and a
    # newline, rows without a time.
    for r in rng.sample(rows, 25):
        r[0] = "  " + r[0] + " "
    for r in rng.sample(rows, 8):
        r[6] = 'retried by support, see ticket\nINC-%d' % rng.randrange(1000, 9999)
    for r in rng.sample(rows, 12):
        r[1] = ""
    rows += [list(r) for r in rng.sample(rows, 15)]
    rows += [["", fmt_time(start, 0), "web", "web", "SG", "u00000", "blank id"] for _ in range(6)]
    rng.shuffle(rows)

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["liveness_id", "created_at", "channel", "app_version", "country", "user_id", "note"])
    w.writerows(rows)
    with open("sample_data/checks.csv", "w", encoding="utf-8-sig", newline="") as f:
        f.write(buf.getvalue())
    print(f"{len(rows)} rows")


if __name__ == "__main__":
    main()
