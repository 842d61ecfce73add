#!/usr/bin/python3
"""The client's writer for the failover scenarios.

Usage: writer.py FILE ACKLOG STOPFILE [INTERVAL]

Appends numbered records to FILE (on the NFS mount) and fsyncs each; only after fsync
returned does it append "N TIME" to ACKLOG (on the client's own disk), so ACKLOG lists
exactly the records the server acknowledged as stable. An error is logged as
"ERR N TIME MESSAGE" and the same record is tried again on a reopened file: the writer
carries on by itself, as an application on a hard mount would. Stops when STOPFILE exists.
"""
import os
import sys
import time

path, acklog, stop = sys.argv[1:4]
interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.05

log = open(acklog, "a", buffering=1)
fd = None
n = 1
while not os.path.exists(stop):
    try:
        if fd is None:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, b"%08d %.6f\n" % (n, time.time()))
        os.fsync(fd)
        log.write("%d %.6f\n" % (n, time.time()))
        n += 1
    except OSError as e:
        log.write("ERR %d %.6f %s\n" % (n, time.time(), e))
        try:
            os.close(fd)
        except (OSError, TypeError):
            pass
        fd = None
        time.sleep(1)
        continue
    time.sleep(interval)
if fd is not None:
    os.close(fd)
