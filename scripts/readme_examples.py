#!/usr/bin/env python3
"""Runs README.md's examples against the demo's database and says which print something else.

README promises that every printed output in it is what the program prints now. This script
checks the examples that need nothing but the demo's data: it builds the database once
(`liveaudit demo --keep-db`, the sample vendor's billing day Asia/Singapore, as README's
examples were run), then runs each fenced block whose lines start with `$ liveaudit` (or a
shell pipeline of one) in a fresh copy of that directory, and compares what the commands print
(stdout and stderr on a pseudo-terminal 400 columns wide, as a person with a wide window sees them) with the lines under each command. A line `...`
in README stands for any number of lines; trailing spaces are ignored, and so are the times a run
happened (any time after the sample data's October 2026: fetched_at, "asked again").

A block whose commands need more than the demo (a vendor, an account, a config file) is marked
in README with `<!-- not checked: WHY -->` on the line above its fence and skipped. Exit status: 0 when every runnable block
matches, 1 otherwise.

Usage: scripts/readme_examples.py [--bin target/release/liveaudit] [--only TEXT] [--show-all]
"""
import argparse
import fcntl
import os
import pty
import struct
import termios
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


SKIP = "<!-- not checked:"


def blocks(readme):
    """Yields (line number, [(command, [expected lines])]) for each block of `$ ` commands,
    except a block right under a `<!-- not checked: WHY -->` line (it needs a vendor, a config
    or data the demo does not have)."""
    lines = readme.split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        start = i + 1
        j = start
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        # A fence with a language (```toml) or under a "not checked" mark is passed over whole.
        checked = lines[i].strip() == "```" and not (i > 0 and lines[i - 1].startswith(SKIP))
        body = lines[start:j]
        i = j + 1
        if checked and body and body[0].startswith("$ "):
            steps = []
            k = 0
            while k < len(body):
                cmd = body[k][2:]
                k += 1
                # A command continued with a trailing backslash.
                while cmd.endswith("\\") and k < len(body):
                    cmd = cmd[:-1] + " " + body[k].strip()
                    k += 1
                out = []
                while k < len(body) and not body[k].startswith("$ "):
                    out.append(body[k])
                    k += 1
                steps.append((cmd, out))
            yield start, steps


TIME = re.compile(r"\b(\d{4}-\d\d-\d\d)T\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def without_run_times(line):
    """The sample data is dated October 2026; a time after that month is when a run happened
    (fetched_at, "asked again"), different on every run: compared as `<run time>`."""
    return TIME.sub(lambda m: "<run time>" if m.group(1) >= "2026-11-01" else m.group(0), line)


def matches(expected, actual):
    """`expected` against `actual` line by line, `...` matching any run of lines."""
    exp = [without_run_times(e.rstrip()) for e in expected]
    act = [without_run_times(a.rstrip()) for a in actual]
    while exp and exp[-1] == "":
        exp.pop()
    while act and act[-1] == "":
        act.pop()

    memo = {}

    def go(i, j):
        key = (i, j)
        if key in memo:
            return memo[key]
        if i == len(exp):
            result = j == len(act)
        elif exp[i].strip() == "...":
            result = any(go(i + 1, k) for k in range(j, len(act) + 1))
        elif j < len(act) and exp[i] == act[j]:
            result = go(i + 1, j + 1)
        else:
            result = False
        memo[key] = result
        return result

    sys.setrecursionlimit(100000)
    return go(0, 0)


def run_in_terminal(cmd, cwd, env, columns):
    """Runs `cmd` in bash on a pseudo-terminal `columns` wide (README shows what a person sees:
    tables, not the CSV a pipe gets); returns (exit status, the lines it printed)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(
        ["bash", "-c", cmd], cwd=cwd, env=env,
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, close_fds=True,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    status = proc.wait()
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    # Colour from other tools in a pipeline (jq colours a terminal's output).
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return status, text.split("\n")


def strip_comment(cmd):
    """Drops a trailing `# comment` outside quotes (README annotates some commands)."""
    quote = None
    for n, c in enumerate(cmd):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and n > 0 and cmd[n - 1] == " ":
            return cmd[:n].rstrip()
    return cmd


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, "target/release/liveaudit"))
    parser.add_argument("--only", help="only blocks whose commands contain this text")
    parser.add_argument("--columns", type=int, default=400, help="the terminal's width (README shows wide terminals: notes on one line)")
    parser.add_argument("--show-all", action="store_true", help="print matching blocks too")
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary}: not built; run `cargo build --release` or give --bin")
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()

    base = tempfile.mkdtemp(prefix="liveaudit-readme-")
    bindir = os.path.join(base, "bin")
    os.makedirs(bindir)
    os.symlink(binary, os.path.join(bindir, "liveaudit"))
    demo = os.path.join(base, "demo")
    os.makedirs(demo)
    shutil.copytree(os.path.join(ROOT, "sample_data"), os.path.join(demo, "sample_data"))
    env = {
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "HOME": base,
        "LIVEAUDIT_TZ": "Asia/Singapore",
        "NO_COLOR": "1",
        "TERM": "xterm",
        "LANG": "C.UTF-8",
    }
    built = subprocess.run(
        ["liveaudit", "demo", "--keep-db", "liveaudit.db"],
        cwd=demo, env=env, capture_output=True, text=True,
    )
    if built.returncode != 0:
        sys.exit(f"demo failed ({built.returncode}):\n{built.stderr}")

    matched = differed = 0
    for line_no, steps in blocks(readme):
        if not any(c.startswith("liveaudit") or " liveaudit " in c for c, _ in steps):
            continue
        if args.only and not any(args.only in c for c, _ in steps):
            continue
        work = os.path.join(base, f"block-{line_no}")
        shutil.copytree(demo, work)
        report = []
        ok = True
        for cmd, expected in steps:
            status, actual = run_in_terminal(strip_comment(cmd), work, env, args.columns)
            if matches(expected, actual):
                report.append(f"  ok    $ {cmd}")
            else:
                ok = False
                report.append(f"  DIFF  $ {cmd}")
                report.append("    README:")
                report.extend("      " + e for e in expected)
                report.append(f"    now (exit {status}):")
                report.extend("      " + a for a in actual[:400])
                if len(actual) > 400:
                    report.append(f"      ... ({len(actual) - 400} more lines)")
        shutil.rmtree(work, ignore_errors=True)
        if ok:
            matched += 1
        else:
            differed += 1
        if not ok or args.show_all:
            print(f"README.md:{line_no}: {'matches' if ok else 'differs'}")
            print("\n".join(report))
    shutil.rmtree(base, ignore_errors=True)
    print(f"{matched} blocks match, {differed} differ")
    return 0 if differed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
