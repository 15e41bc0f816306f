#!/usr/bin/env python3
"""The peak resident memory of a command and every process it starts, summed: what a container's
memory limit must cover (`/usr/bin/time -v` reports one process's peak, not a parent and a child
resident together). Linux only (reads /proc); standard library only.

Usage: python3 tools/peak_rss.py [--until TEXT] [--interval-ms N] -- COMMAND [ARGS...]

Samples VmRSS of the command's process tree every N ms (default 20) until it exits, or, with
--until, until TEXT appears in its standard error (then it is sent SIGTERM). Prints the peak of
the sum, the processes' shares at that moment, and the command's own VmHWM.

E.g. the warm-up of `gazelle serve` (the server and its warm-up client):
    python3 tools/peak_rss.py --until 'listening on' -- \\
        target/release/gazelle serve --model cifar-minionn --listen 127.0.0.1:7878
"""

import argparse
import os
import signal
import subprocess
import sys
import time


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid):
    """pid and its descendants (through /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--until", help="stop once this text appears on the command's stderr")
    ap.add_argument("--interval-ms", type=float, default=20.0)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no command")
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    os.set_blocking(p.stderr.fileno(), False)
    log, peak, at, hwm = b"", 0, {}, 0
    while p.poll() is None:
        shares = {q: status_kib(q, "VmRSS") for q in tree(p.pid)}
        if sum(shares.values()) > peak:
            peak, at = sum(shares.values()), shares
        hwm = max(hwm, status_kib(p.pid, "VmHWM"))
        chunk = p.stderr.read()
        if chunk:
            log += chunk
            sys.stderr.buffer.write(chunk)
        if a.until and a.until.encode() in log:
            p.send_signal(signal.SIGTERM)
            break
        time.sleep(a.interval_ms / 1000)
    p.wait()
    print(f"peak of the summed RSS: {peak} KiB ({peak * 1024 / 1e9:.2f} GB)")
    for q, kib in at.items():
        role = "command" if q == p.pid else "child"
        print(f"  {role} {q}: {kib} KiB ({kib * 1024 / 1e9:.2f} GB)")
    print(f"command's own VmHWM: {hwm} KiB ({hwm * 1024 / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
