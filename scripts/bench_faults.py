#!/usr/bin/env python3
"""Rate control against a vendor that also fails: liveaudit behind nginx `limit_req` (a leaky
bucket: `nodelay`, 429 with `Retry-After: 1` above the limit) in front of `liveaudit mock`
with a reproducible fault mix on first attempts (5% HTML 500, 3% 502 pages, 1% empty 503
twice, 2% transient 11350, 1% truncated JSON, 0.6% 3-second hangs; fetch runs with
--timeout 2). Prints, per run, the requests nginx accepted and rejected each second, the
accepted rate over the run, the share rejected, the most requests seen in any W-second window
against rate x W + burst, and whether every id was stored with the mock's code.

Usage: scripts/bench_faults.py [BIN] [--only fixed,auto70,auto260]
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


def run(bin_, work, name, rate, burst, rate_arg, n):
    mock_port = free_port()
    mock = subprocess.Popen([bin_, "mock", "--listen", f"127.0.0.1:{mock_port}", "--partner-key", KEY,
                             "--latency-ms", "20", "--jitter-ms", "60", "--fault-mix", MIX],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(mock_port)
    ng, port, log = nginx(work, mock_port, rate, burst)
    db = os.path.join(work, f"{name}.db")
    env = dict(os.environ, TD_PARTNER_CODE="demo-partner", TD_PARTNER_KEY=KEY,
               TD_RESULT_URL=f"http://127.0.0.1:{port}/verification/kyc/sdk/liveness/result/v1")
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
    stored = c.execute("SELECT count(*) FROM checks WHERE status = 'done' AND code <> 11350").fetchone()[0]
    c.close()
    print(f"## {name}: nginx {rate} r/s burst {burst}, fetch --rate {rate_arg}, {n} ids, exit {p.returncode}, {wall:.1f} s")
    print(f"accepted {accepted} ({accepted / span:.1f}/s = {accepted / span / rate:.3f} of the limit), "
          f"rejected {rejected} ({rejected / max(1, accepted + rejected):.2%}), ids with a final code {stored}/{n}")
    print(f"  body (seconds 0-{body_end}, until the last second at >= half the limit): "
          f"{body / (body_end + 1):.1f}/s = {body / (body_end + 1) / rate:.3f} of the limit; "
          f"the {len(secs) - body_end - 1} s after it hold {accepted - body} retries waiting out back-off")
    for w in (1, 2, 5, 10):
        print(f"  most requests in any {w:>2} s window: {max_window(rows, w)} (rate x W + burst = {rate * w + burst})")
    print("  per second (accepted+rejected): " + " ".join(
        f"{per[s][0]}" + (f"+{per[s][1]}" if per[s][1] else "") for s in secs))
    if p.returncode not in (0, 4):
        print("  fetch stderr: " + p.stderr[-800:])
    tail = [line for line in p.stderr.splitlines() if "rate" in line.lower()][-3:]
    for line in tail:
        print("  " + line)
    print()


def main():
    args = [a for a in sys.argv[1:]]
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = set(args[i + 1].split(","))
        del args[i:i + 2]
    bin_ = args[0] if args else os.path.join(ROOT, "target", "release", "liveaudit")
    with tempfile.TemporaryDirectory() as work:
        for name, rate, burst, rate_arg, n in RUNS:
            if only is None or name in only:
                run(bin_, work, name, rate, burst, rate_arg, n)


if __name__ == "__main__":
    main()
