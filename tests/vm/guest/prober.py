#!/usr/bin/python3
"""The client's prober for the exports scenarios: how long each request waits.

Usage: prober.py DIR LOG STOPFILE [INTERVAL]

Every INTERVAL seconds: write 4 KiB to DIR/probe, fsync, read it back and stat DIR (several
NFS requests, each of which needs the server's export caches). Logs "START DURATION ok" or
"START DURATION ERR message" (seconds, the client's clock) to LOG on the client's own disk, so
the longest stall in any window can be read afterwards. Carries on after an error, as an
application would. Stops when STOPFILE exists.
"""
import os
import sys
import time

d, logpath, stop = sys.argv[1:4]
interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.02
log = open(logpath, "a", buffering=1)
block = b"x" * 4096
while not os.path.exists(stop):
    t = time.time()
    try:
        fd = os.open(os.path.join(d, "probe"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, block, 0)
            os.fsync(fd)
            os.pread(fd, 4096, 0)
        finally:
            os.close(fd)
        os.stat(d)
        log.write("%.6f %.6f ok\n" % (t, time.time() - t))
    except OSError as e:
        log.write("%.6f %.6f ERR %s\n" % (t, time.time() - t, e))
    time.sleep(interval)
