#!/usr/bin/env python3
"""CPU time by thread group, for the per-request split of a load run (bench/refresh.sh SPLIT=1).

  cpu_split.py snap > a; ...; cpu_split.py snap > b
  cpu_split.py diff a b REQUESTS_PER_SECOND SECONDS

`snap` reads every thread's user and system time from /proc and both cores' idle time from
/proc/stat; `diff` prints each group's CPU microseconds per request between two snapshots:
the server's HTTP threads (`http-*`), the main runtime's workers (`tokio-rt-worker`: the
group-commit and claim writers, and the refresh grant), PostgreSQL's processes, wrk, the
machine's idle time, and everything else.
"""
import os
import sys


def group(comm):
    if comm.startswith("postgres"):
        return "postgres"
    if comm.startswith("http-"):
        return "http"
    if comm.startswith("tokio-rt"):
        return "workers"
    if comm == "wrk":
        return "wrk"
    return "other"


def snap():
    ticks = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    s = f.read()
                comm = s[s.index("(") + 1 : s.rindex(")")]
                fields = s[s.rindex(")") + 2 :].split()
                g = group(comm)
                ticks[g] = ticks.get(g, 0) + int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    with open("/proc/stat") as f:
        ticks["idle"] = int(f.readline().split()[4])
    print(" ".join(f"{k}={v}" for k, v in sorted(ticks.items())))


def diff(a, b, rps, secs):
    def read(path):
        with open(path) as f:
            return {k: int(v) for k, v in (x.split("=") for x in f.read().split())}

    before, after = read(a), read(b)
    us_per_tick = 1e6 / os.sysconf("SC_CLK_TCK")
    requests = float(rps) * float(secs)
    parts = [f"{k}={(after[k] - before.get(k, 0)) * us_per_tick / requests:.0f}" for k in sorted(after)]
    print("cpu_us_per_request " + " ".join(parts))


if __name__ == "__main__":
    if sys.argv[1:2] == ["snap"]:
        snap()
    elif sys.argv[1:2] == ["diff"] and len(sys.argv) == 6:
        diff(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
