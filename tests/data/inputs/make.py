#!/usr/bin/env python3
"""Makes the input fixtures of tests/inputs.rs with the tools users' files come from.

openpyxl (.xlsx), xlwt (.xls), odfpy (.ods), Python's codecs (Excel's "Unicode text": UTF-16LE
with a BOM, tabs, CRLF), gzip and the zstd command. Run from this folder: pip install openpyxl xlwt odfpy; python3 make.py
Every file lists the same four checks, so each must register exactly these ids and times:

  a869ed0c-0001  2026-10-26 14:05:06 Asia/Jakarta  = 2026-10-26T07:05:06Z
  a869ed0c-0002  2026-10-27 09:00:00 Asia/Jakarta  = 2026-10-27T02:00:00Z
  123456789012345 (a number cell in workbooks)  2026-10-28 00:00:00 Asia/Jakarta = 2026-10-27T17:00:00Z
  a869ed0c-0004  2026-10-31 23:59:59.5 Asia/Jakarta  = 2026-10-31T16:59:59.500Z
"""
import datetime
import gzip
import os

ROWS = [
    ("a869ed0c-0001", datetime.datetime(2026, 10, 26, 14, 5, 6), "web"),
    ("a869ed0c-0002", datetime.datetime(2026, 10, 27, 9, 0, 0), "ios"),
    (123456789012345, datetime.datetime(2026, 10, 28, 0, 0, 0), "android"),
    ("a869ed0c-0004", datetime.datetime(2026, 10, 31, 23, 59, 59, 500000), "web"),
]
HEADER = ("liveness_id", "created_at", "channel")


def text(sep, eol="\n"):
    lines = [sep.join(HEADER)]
    for i, t, c in ROWS:
        lines.append(sep.join([str(i), t.isoformat(sep=" ", timespec="milliseconds"), c]))
    return eol.join(lines) + eol


def main():
    with open("semicolon.csv", "w", newline="") as f:
        f.write(text(";", "\r\n"))
    with open("pipe.csv", "w", newline="") as f:
        f.write(text("|"))
    with open("tab.tsv", "w", newline="") as f:
        f.write(text("\t"))
    # Excel's "Unicode text": UTF-16LE with a BOM, tab-separated, CRLF.
    with open("excel_unicode.txt", "wb") as f:
        f.write(b"\xff\xfe" + text("\t", "\r\n").encode("utf-16-le"))
    with gzip.open("comma.csv.gz", "wb") as f:
        f.write(text(",").encode())
    # The zstd command line tool (apt install zstd).
    import subprocess
    subprocess.run(["zstd", "-q", "-f", "-19", "-o", "comma.csv.zst"], input=text(",").encode(), check=True)

    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Checks"
    ws.append(HEADER)
    for i, t, c in ROWS:
        ws.append([i, t, c])
    other = wb.create_sheet("Other")
    other.append(HEADER)
    other.append(["b000000-other", datetime.datetime(2026, 1, 1), "web"])
    wb.save("book.xlsx")

    # The table placed at C3, with an empty row inside it: rows keep the sheet's numbers.
    offset = openpyxl.Workbook()
    ws = offset.active
    for r, row in enumerate([HEADER] + ROWS[:2] + [None] + ROWS[2:], start=3):
        for c, value in enumerate(row or [], start=3):
            ws.cell(row=r, column=c, value=value)
    offset.save("offset.xlsx")

    lost = openpyxl.Workbook()
    ws = lost.active
    ws.append(["liveness_id"])
    ws.append(["a869ed0c-0001"])
    ws.append([123456789012345678])  # stored as a double: already 123456789012345680
    lost.save("lost_digits.xlsx")

    import xlwt
    book = xlwt.Workbook()
    sheet = book.add_sheet("Checks")
    when = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm:ss.000")
    for c, h in enumerate(HEADER):
        sheet.write(0, c, h)
    for r, (i, t, ch) in enumerate(ROWS, start=1):
        sheet.write(r, 0, i)
        # xlwt drops the milliseconds of a datetime: write the serial number Excel stores.
        serial = (t - datetime.datetime(1899, 12, 30)) / datetime.timedelta(days=1)
        sheet.write(r, 1, serial, when)
        sheet.write(r, 2, ch)
    book.save("legacy.xls")

    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableRow, TableCell
    from odf.text import P
    doc = OpenDocumentSpreadsheet()
    table = Table(name="Checks")
    row = TableRow()
    for h in HEADER:
        cell = TableCell(valuetype="string")
        cell.addElement(P(text=h))
        row.addElement(cell)
    table.addElement(row)
    for i, t, c in ROWS:
        row = TableRow()
        if isinstance(i, int):
            cell = TableCell(valuetype="float", value=str(i))
        else:
            cell = TableCell(valuetype="string")
        cell.addElement(P(text=str(i)))
        row.addElement(cell)
        cell = TableCell(valuetype="date", datevalue=t.isoformat(timespec="milliseconds"))
        cell.addElement(P(text=str(t)))
        row.addElement(cell)
        cell = TableCell(valuetype="string")
        cell.addElement(P(text=c))
        row.addElement(cell)
        table.addElement(row)
    doc.spreadsheet.addElement(table)
    doc.save("calc.ods")

    os.makedirs("folder", exist_ok=True)
    with open("folder/b_second.csv", "w") as f:
        f.write("liveness_id,created_at\nf-0002,2026-10-02T00:00:00Z\n")
    with gzip.open("folder/a_first.tsv.gz", "wb") as f:
        f.write(b"liveness_id\tcreated_at\nf-0001\t2026-10-01T00:00:00Z\n")
    with open("folder/README.md", "w") as f:
        f.write("not an id list\n")


if __name__ == "__main__":
    main()
