#!/usr/bin/env python3
"""Rate control against a vendor that also fails: liveaudit behind nginx `limit_req` (a leaky
bucket: `nodelay`, 429 with `Retry-After: 1` above the limit) in front of `liveaudit mock`
with a reproducible fault mix on first attempts (5% HTML 500, 3% 502 pages, 1% empty 503
twice, 2% transient 11350, 1% truncated JSON, 0.6% 3-second hangs; fetch runs with
--timeout 2). Prints, per run, the requests nginx accepted and rejected each second, the
accepted rate over the run, the share rejected, the most requests seen in any W-second window
against rate x W + burst, and whether every id was stored with the mock's code.

Usage: scripts/bench_faults.py [BIN] [--only fixed,auto70,auto260] [--keep DIR]
(--keep DIR leaves the databases, nginx logs and inputs in DIR.)
Needs nginx (Debian nginx-light) and a built binary (default target/release/liveaudit).
"""
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "bench-key"
MIX = "html500=0.05,html502=0.03,empty503=0.01x2,internal=0.02,truncated=0.01,hang=0.006"
# (name, nginx rate, burst, liveaudit --rate, ids)
RUNS = [
    ("fixed", 100, 10, "100", 3000),
    ("auto70", 70, 5, "auto", 3500),
    ("auto260", 260, 20, "auto", 12000),
]


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port):
    import socket
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.025)
    raise SystemExit(f"port {port} did not open")


def nginx(work, upstream, rate, burst):
    d = os.path.join(work, f"nginx{rate}")
    os.makedirs(d, exist_ok=True)
    port = free_port()
    conf = f"""
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 4096; }}
http {{
  log_format t '$msec $status';
  access_log {d}/access.log t;
  client_body_temp_path {d};
  proxy_temp_path {d};
  keepalive_requests 1000000;
  limit_req_zone $binary_remote_addr zone=v:1m rate={rate}r/s;
  upstream mock {{ server 127.0.0.1:{upstream}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      limit_req zone=v burst={burst} nodelay;
      limit_req_status 429;
      error_page 429 = @throttled;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 30s;
      proxy_pass http://mock;
    }}
    location @throttled {{ add_header Retry-After 1 always; return 429 "throttled\\n"; }}
  }}
}}
"""
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    p = subprocess.Popen(["nginx", "-p", d, "-c", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p, port, os.path.join(d, "access.log")


def ids_file(work, n):
    path = os.path.join(work, f"ids{n}.csv")
    with open(path, "w") as f:
        f.write("liveness_id,created_at\n")
        for i in range(n):
            f.write(f"f-{i:09d},2026-10-{1 + i % 28:02d}T{i % 24:02d}:00:00Z\n")
    return path


def series(log):
    rows = []
    with open(log) as f:
        for line in f:
            t, status = line.split()
            rows.append((float(t), status))
    rows.sort()
    t0 = rows[0][0]
    per = {}
    for t, status in rows:
        s = int(t - t0)
        acc, rej = per.get(s, (0, 0))
        per[s] = (acc, rej + 1) if status == "429" else (acc + 1, rej)
    return rows, per


def max_window(rows, w):
    """Most requests nginx saw in any window of w seconds."""
    times = [t for t, _ in rows]
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - w:
            j += 1
        best = max(best, i - j + 1)
    return best


def tail_causes(db, after):
    """What the requests sent after `after` (Unix seconds) were retrying: per cause (the outcome
    of the id's attempt before), how many requests and the longest wait since that attempt."""
    c = sqlite3.connect(db)
    rows = c.execute("SELECT liveness_id, sent_at, outcome, latency_ms FROM attempts "
                     "ORDER BY liveness_id, sent_at, id").fetchall()
    c.close()
    causes = {}
    prev = None
    for lid, sent, outcome, latency in rows:
        if prev and prev[0] == lid and sent / 1000 >= after:
            # The wait from the end of the previous attempt to this one: the back-off.
            wait = (sent - prev[1] - prev[3]) / 1000
            n, longest, attempt_no = causes.get(prev[2], (0, 0.0, 0))
            causes[prev[2]] = (n + 1, max(longest, wait), max(attempt_no, prev[4] + 1))
        number = prev[4] + 1 if prev and prev[0] == lid else 1
        prev = (lid, sent, outcome, latency, number)
    return ", ".join(f"{n} after {cause} (longest back-off {longest:.1f} s, up to attempt {k})"
                     for cause, (n, longest, k) in sorted(causes.items(), key=lambda kv: -kv[1][0]))


M64 = (1 << 64) - 1


def stable_hash(text):
    """The mock's FNV-1a with its splitmix finish (src/mock/outcomes.rs)."""
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & M64
    h ^= h >> 30
    h = (h * 0xbf58476d1ce4e5b9) & M64
    h ^= h >> 27
    h = (h * 0x94d049bb133111eb) & M64
    return h ^ (h >> 31)


def expected_code(lid):
    """The code the mock answers for an id when nothing goes wrong (src/mock/outcomes.rs)."""
    h = stable_hash(lid)
    r = h % 1000
    if r <= 724:
        return 200
    if r <= 904:
        return 12202 + (h // 1000) % 21
    if r <= 934:
        return 12250
    if r <= 949:
        return 11350
    if r <= 974:
        return 11340
    return 12299


def holds_from(per, secs, rate, body_end, share=0.9, w=5):
    """The first second from which every w-second window up to the body's end averages at least
    `share` of the limit (None if none does)."""
    acc = [per.get(s, (0, 0))[0] for s in range(body_end + 1)]
    for s0 in range(body_end + 1):
        windows = [sum(acc[i:i + w]) / w for i in range(s0, body_end + 2 - w)]
        if windows and all(x >= share * rate for x in windows):
            return s0
    return None


def run(bin_, work, name, rate, burst, rate_arg, n):
    """One run; prints its report and returns its figures (with the report's lines)."""
    mock_port = free_port()
    mock = subprocess.Popen([bin_, "mock", "--listen", f"127.0.0.1:{mock_port}", "--partner-key", KEY,
                             "--latency-ms", "20", "--jitter-ms", "60", "--fault-mix", MIX],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(mock_port)
    ng, port, log = nginx(work, mock_port, rate, burst)
    db = os.path.join(work, f"{name}.db")
    env = dict(os.environ, TD_PARTNER_CODE="demo-partner", TD_PARTNER_KEY=KEY,
               TD_RESULT_URL=f"http://127.0.0.1:{port}/verification/kyc/sdk/liveness/result/v1")
    load = os.getloadavg()[0]
    start = time.time()
    p = subprocess.run([bin_, "fetch", "-q", "--db", db, "--rate", rate_arg, "--concurrency", "64",
                        "--timeout", "2", ids_file(work, n)], env=env, capture_output=True, text=True)
    wall = time.time() - start
    ng.terminate(); ng.wait()
    mock.terminate(); mock.wait()
    rows, per = series(log)
    accepted = sum(a for a, _ in per.values())
    rejected = sum(r for _, r in per.values())
    span = rows[-1][0] - rows[0][0]
    # The body of the run: up to the last second nginx accepted at least half the limit (after
    # it, only retries waiting out their back-off remain).
    secs = sorted(per)
    body_end = max(s for s in secs if per[s][0] >= rate / 2)
    body = sum(per[s][0] for s in secs if s <= body_end)
    c = sqlite3.connect(db)
    stored = c.execute("SELECT liveness_id, status, code FROM checks").fetchall()
    c.close()
    right = sum(1 for lid, status, code in stored if status == "done" and code == expected_code(lid))
    held = sum(1 for lid, status, code in stored if code == 11350 and expected_code(lid) != 11350)
    windows = {w: max_window(rows, w) for w in (1, 2, 5, 10)}
    r = dict(name=name, rate=rate, burst=burst, rate_arg=rate_arg, n=n, exit=p.returncode, wall=wall,
             accepted=accepted, rejected=rejected, whole=accepted / span / rate,
             body=body / (body_end + 1) / rate, tail_secs=len(secs) - body_end - 1,
             rejected_share=rejected / max(1, accepted + rejected), right=right, held=held,
             windows=windows, holds_from=holds_from(per, secs, rate, body_end), load=load)
    lines = [
        f"## {name}: nginx {rate} r/s burst {burst}, fetch --rate {rate_arg}, {n} ids, exit {p.returncode}, "
        f"{wall:.1f} s (load average {load:.1f} at the start)",
        f"accepted {accepted} ({accepted / span:.1f}/s = {r['whole']:.3f} of the limit), "
        f"rejected {rejected} ({r['rejected_share']:.2%}), ids stored with the mock's code {right}/{n}"
        f" (held at 11350 though the mock answers otherwise: {held})",
        f"  body (seconds 0-{body_end}, until the last second at >= half the limit): "
        f"{body / (body_end + 1):.1f}/s = {r['body']:.3f} of the limit; "
        f"the {r['tail_secs']} s after it hold {accepted - body} retries waiting out back-off",
        (f"  every 5 s window from second {r['holds_from']} to the body's end at >= 0.9 of the limit"
         if r["holds_from"] is not None else "  some 5 s window up to the body's end below 0.9 of the limit"),
    ]
    if r["tail_secs"] > 0:
        lines.append(f"  after the body: {tail_causes(db, rows[0][0] + body_end + 1)}")
    for w, most in windows.items():
        lines.append(f"  most requests in any {w:>2} s window: {most} (rate x W + burst = {rate * w + burst})")
    lines.append("  per second (accepted+rejected): " + " ".join(
        f"{per[s][0]}" + (f"+{per[s][1]}" if per[s][1] else "") for s in secs))
    if p.returncode not in (0, 4):
        lines.append("  fetch stderr: " + p.stderr[-800:])
    lines += ["  " + line for line in p.stderr.splitlines() if "rate" in line.lower()][-3:]
    print("\n".join(lines) + "\n", flush=True)
    r["lines"] = lines
    return r


def run_all(bin_, work, only=None):
    """Every run of RUNS (or those named in `only`); returns their figures."""
    return [run(bin_, work, name, rate, burst, rate_arg, n)
            for name, rate, burst, rate_arg, n in RUNS if only is None or name in only]


def main():
    args = [a for a in sys.argv[1:]]
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = set(args[i + 1].split(","))
        del args[i:i + 2]
    keep = None
    if "--keep" in args:
        i = args.index("--keep")
        keep = args[i + 1]
        del args[i:i + 2]
    bin_ = args[0] if args else os.path.join(ROOT, "target", "release", "liveaudit")
    with tempfile.TemporaryDirectory() as tmp:
        work = keep or tmp
        os.makedirs(work, exist_ok=True)
        run_all(bin_, work, only)


if __name__ == "__main__":
    main()
