#!/usr/bin/env python3
"""Peak memory and time of the release binary on hostile inputs (BENCHMARKS.md, "Hostile inputs").

Builds each hostile file in a temporary directory (nothing large is kept), runs
`liveaudit` under /usr/bin/time -v against a `liveaudit mock` on loopback, and prints one line per
case: exit status, wall seconds, peak RSS in MB. A case passes when it ends by itself, exits as
expected and stays under its memory ceiling (300 MB; 200 MB for reports).

    cargo build --release && python3 scripts/hostile_rss.py [--bin target/release/liveaudit]
    python3 scripts/hostile_rss.py --real-workbooks DIR   # also every workbook in DIR
"""

import argparse
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import zipfile

KEY = "hostile-rss-key"
CODE = "demo-partner"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ods(path, rows):
    content = (
        '<?xml version="1.0"?><office:document-content><office:body><office:spreadsheet>'
        f'<table:table table:name="Sheet1">{rows}</table:table></office:spreadsheet>'
        "</office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content)


def xlsx_streamed(path, sheet_chunks, strings_chunks):
    """An .xlsx whose sheet and shared strings are written chunk by chunk (GiB-sized parts)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("xl/workbook.xml", '<workbook><sheets><sheet name="a" r:id="rId1"/></sheets></workbook>')
        z.writestr("_rels/.rels", "<Relationships/>")
        for name, chunks in (("xl/worksheets/sheet1.xml", sheet_chunks), ("xl/sharedStrings.xml", strings_chunks)):
            with z.open(name, "w", force_zip64=True) as f:
                for c in chunks:
                    f.write(c)


def make_cases(d):
    cases = []
    # 1. An .ods cell repeated 20 million times (the 828-byte bomb of the red-team pass).
    ods(
        f"{d}/bomb.ods",
        '<table:table-row table:number-rows-repeated="1000000"><table:table-cell '
        'office:value-type="string" table:number-columns-repeated="20"><text:p>x</text:p>'
        "</table:table-cell></table:table-row>",
    )
    cases.append(("ods 20M repeated cells", ["fetch", "bomb.ods"], 2, 300))
    # 2. An .xlsx with one 1.5 GiB cell.
    block = b"a" * (1 << 20)
    xlsx_streamed(
        f"{d}/cell.xlsx",
        [b'<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>']
        + [block] * 1536
        + [b"</t></is></c></row></sheetData></worksheet>"],
        [b"<sst/>"],
    )
    cases.append(("xlsx one 1.5 GiB cell", ["fetch", "cell.xlsx"], 2, 300))
    # 3. An .xlsx with 400 million tiny shared strings (~5 MB packed).
    si = b"<si><t/></si>" * 80_000
    xlsx_streamed(
        f"{d}/sst.xlsx",
        [b'<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>'],
        [b"<sst>"] + [si] * 5000 + [b"</sst>"],
    )
    cases.append(("xlsx 400M shared strings", ["fetch", "sst.xlsx"], 2, 300))
    # 4. Wide rows: 800 rows x 250,000 columns, zstd.
    header = "liveness_id," + ",".join(f"c{i}" for i in range(250_000)) + "\n"
    row = ",".join(["1"] * 250_000)
    with open(f"{d}/wide.csv", "w") as f:
        f.write(header)
        for i in range(800):
            f.write(f"lv-{i:08},{row}\n")
    subprocess.run(["zstd", "-q", "-3", "--rm", f"{d}/wide.csv"], check=True)
    cases.append(("wide 800 x 250,000 zstd", ["fetch", "wide.csv.zst"], 2, 300))
    cases.append(
        ("wide, --max-columns raised", ["fetch", "--max-columns", "300000", "wide.csv.zst"], 2, 300)
    )
    # 5. A typo'd year.
    with open(f"{d}/year.csv", "w") as f:
        f.write("liveness_id,created_at\nlv-00000001,0026-01-05\nlv-00000002,2026-01-05\n")
    cases.append(("year 0026 at intake", ["fetch", "year.csv"], 2, 300))
    # 6. Date and boolean cells as ids (an .xlsx with a date-formatted number).
    cases.append(("endless cursor", ["export", "--cursor", "/dev/zero"], 2, 300))
    # 7. Many accounts.
    with open(f"{d}/many.toml", "w") as f:
        for i in range(40_000):
            f.write(f'[accounts.a{i}]\npartner_code = "c{i}"\n')
    cases.append(("config of 40,000 accounts", ["--config", "many.toml", "codes"], 0, 300))
    # 8. Odd paths: a FIFO without a reader, /dev/null, /dev/full.
    os.mkfifo(f"{d}/runs.fifo")
    with open(f"{d}/ids.csv", "w") as f:
        f.write("liveness_id\nlv-00000001\nlv-00000002\n")
    cases.append(("summary file FIFO, no reader", ["fetch", "--rate", "0", "--summary-file", "runs.fifo", "ids.csv"], 1, 300))
    cases.append(("metrics file /dev/null", ["fetch", "--rate", "0", "--metrics-file", "/dev/null", "ids.csv"], 0, 300))
    cases.append(("summary file /dev/full", ["fetch", "--rate", "0", "--summary-file", "/dev/full", "ids.csv"], 1, 300))
    # 9. Reports over far dates (a database filled before intake refused them).
    cases.append(("report billing --by day, year 0026", ["report", "billing", "--by", "day"], 2, 200))
    cases.append(("report attacks --by day, year 0026", ["report", "attacks", "--by", "day"], 2, 200))
    cases.append(("report billing --by month, year 0026", ["report", "billing", "--by", "month"], 2, 200))
    return cases


def run(binary, args, cwd, env):
    started = time.monotonic()
    p = subprocess.run(
        ["/usr/bin/time", "-v", binary, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,
    )
    wall = time.monotonic() - started
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    status = re.search(r"Exit status: (\d+)", p.stderr)
    return (int(status.group(1)) if status else p.returncode, wall, int(rss.group(1)) / 1024 if rss else -1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/liveaudit")
    ap.add_argument("--real-workbooks", help="a folder of real workbooks to read too")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    port = free_port()
    mock = subprocess.Popen(
        [binary, "mock", "--listen", f"127.0.0.1:{port}", "--partner-code", CODE, "--partner-key", KEY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ)
            for k in ("LIVEAUDIT_CONFIG", "LIVEAUDIT_TZ", "LIVEAUDIT_RATE"):
                env.pop(k, None)
            env.update(
                TD_PARTNER_CODE=CODE,
                TD_PARTNER_KEY=KEY,
                TD_RESULT_URL=f"http://127.0.0.1:{port}/verification/kyc/sdk/liveness/result/v1",
                TD_LICENSE_URL=f"http://127.0.0.1:{port}/verification/kyc/sdk/liveness/license/v1",
                LIVEAUDIT_DB=f"{d}/audit.db",
            )
            for _ in range(50):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            cases = make_cases(d)
            # The far-dates database: fetched with --bad-times fetch-time, then one date typo'd as
            # an older liveaudit stored it.
            subprocess.run([binary, "fetch", "--rate", "0", "--bad-times", "fetch-time", "year.csv"], cwd=d, env=env, capture_output=True)
            with sqlite3.connect(f"{d}/audit.db") as db:
                db.execute("UPDATE checks SET event_time = -61346332800000 WHERE liveness_id = 'lv-00000001'")
            failed = 0
            for name, args, want, ceiling in cases:
                status, wall, mb = run(binary, args, d, env)
                ok = status == want and mb <= ceiling
                failed += not ok
                print(f"{'ok ' if ok else 'BAD'} {name:40} exit {status} (want {want})  {wall:6.2f} s  {mb:7.1f} MB")
            assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
            if a.real_workbooks:
                worst = (0.0, "")
                for f in sorted(os.listdir(a.real_workbooks)):
                    path = os.path.join(a.real_workbooks, f)
                    status, wall, mb = run(binary, ["fetch", "--rate", "0", "--id-column", "x", path], d, env)
                    worst = max(worst, (mb, f))
                    if status not in (0, 2, 4):
                        failed += 1
                        print(f"BAD real workbook {f}: exit {status}")
                print(f"real workbooks: peak {worst[0]:.1f} MB ({worst[1]})")
            sys.exit(1 if failed else 0)
    finally:
        mock.terminate()
        mock.wait()


if __name__ == "__main__":
    main()
