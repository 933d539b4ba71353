"""What every part of the benchmark shares: the names and sizes, the work
directory, and the processes it starts (each one tracked, so that all of
them are stopped on exit)."""

import os
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

BASE_DN = "dc=example,dc=com"
PEOPLE_DN = f"ou=people,{BASE_DN}"
ADMIN_DN = f"cn=admin,{BASE_DN}"
SERVICE_DN = f"cn=ldapmda,ou=services,{BASE_DN}"
ALICE_DN = f"uid=alice,{PEOPLE_DN}"
MAILBOX_DN = f"cn=mailbox,{ALICE_DN}"
# Deliveries without a +extension go to the INBOX folder entry.
INBOX_DN = f"mdaFolder=INBOX,{MAILBOX_DN}"
RECIPIENT = "alice@example.com"
SENDER = "sender@example.org"
MSG_DATE = "Sat, 22 Nov 2025 15:00:00 +0000"
MSG_DATE_GT = "20251122150000Z"

SLAPD = "/usr/sbin/slapd"
DOVECOT = "/usr/sbin/dovecot"
DOVECOT_LDA = "/usr/lib/dovecot/dovecot-lda"
GNU_TIME = "/usr/bin/time"

# Sizes are binary, as /usr/bin/time reports RSS (KiB) and as ldapmda's
# max_message_size default (10 MiB) is: a "10 MB" message is 10 MiB, the
# largest a default configuration accepts.
KiB = 1024
MiB = 1024 * 1024

# Counts per mode. runs: repetitions of each side-by-side comparison (the
# table shows the median of the per-run figures).
MODES = {
    "quick": dict(runs=3, warmup=2, pipe_n=10, lmtp_n=50, conc_n=16,
                  size_runs={4 * KiB: 3, MiB: 3, 10 * MiB: 1},
                  repl_n={4 * KiB: 5, MiB: 2},
                  index_n=50, index_chunk=25, search_n=200, search_repeat=3, nosync_n=20,
                  imap_fetch_n=100, imap_select_n=500),
    "full": dict(runs=7, warmup=5, pipe_n=100, lmtp_n=1000, conc_n=160,
                 size_runs={4 * KiB: 7, MiB: 7, 10 * MiB: 5},
                 repl_n={4 * KiB: 50, MiB: 10},
                 index_n=1000, index_chunk=100, search_n=5000, search_repeat=10,
                 nosync_n=500, imap_fetch_n=1000, imap_select_n=10000),
}


class BenchError(Exception):
    pass


def log(*msg):
    print(*msg, file=sys.stderr, flush=True)


def die(msg):
    raise BenchError(msg)


# Processes: everything started here is tracked and stopped on exit.
DAEMONS = []        # Popen objects (slapd, dovecot), stopped in reverse
RUNNING = set()     # pids of timed children currently running
STOP = threading.Event()   # set on exit: start no more children
ENV = dict(os.environ, LC_ALL="C")
ENV.pop("LDAPCONF", None)
ENV.pop("LDAPRC", None)


def stop_everything():
    for pid in list(RUNNING):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for p in reversed(DAEMONS):
        stop_daemon(p)


def stop_daemon(p):
    if p in DAEMONS:
        DAEMONS.remove(p)
    if p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def spawn_timed(argv, stdin_path, out_path):
    """Runs argv with stdin from a file and stdout+stderr into a file.
    Returns (milliseconds from spawn to exit, exit code, rusage)."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, stdin_path or os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, out_path,
         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    if STOP.is_set():
        raise BenchError("stopping")
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, ENV, file_actions=actions)
    RUNNING.add(pid)
    try:
        _, status, rusage = os.wait4(pid, 0)
    finally:
        RUNNING.discard(pid)
    t1 = time.perf_counter_ns()
    return (t1 - t0) / 1e6, os.waitstatus_to_exitcode(status), rusage


def run(argv, what, input_bytes=None, timeout=120):
    """Runs a helper command (not timed); dies with its output on failure."""
    try:
        r = subprocess.run(argv, input=input_bytes, capture_output=True,
                           env=ENV, timeout=timeout)
    except subprocess.TimeoutExpired:
        die(f"{what}: timed out after {timeout} s: {' '.join(argv)}")
    if r.returncode != 0:
        die(f"{what} failed (exit {r.returncode}): {' '.join(argv)}\n"
            + r.stdout.decode(errors="replace")
            + r.stderr.decode(errors="replace"))
    return r.stdout.decode(errors="replace")


def read(path, limit=4000):
    """The last `limit` bytes of a file (all with None), as text; "" if
    it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read()
            return (data if limit is None else data[-limit:]).decode(
                errors="replace")
    except OSError:
        return ""


def median(xs):
    return statistics.median(xs)


def size_label(size):
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    if size % KiB == 0:
        return f"{size // KiB} KiB"
    return f"{size} bytes"


class Workdir:
    """The temporary directory of a run: messages, configurations, logs."""

    def __init__(self, path):
        self.path = path

    def write(self, name, data, mode=0o600):
        path = os.path.join(self.path, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def out(self, name):
        return os.path.join(self.path, "out", name)
