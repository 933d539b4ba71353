"""The measurements. Each compares ldapmda with another tool in the same
run, interleaved, and keeps every run's figure in Cases.results; none of
them judges a timing, but each fails on a wrong delivery."""

import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .common import (ADMIN_DN, GNU_TIME, DOVECOT_LDA, MiB, PEOPLE_DN,
                     RECIPIENT, SENDER, SERVICE_DN, BenchError, die, log,
                     median, read, run, spawn_timed)
from .messages import (entry_attributes, generalized_now, ldif_entry,
                       lmtp_data, make_message, message_dn, parse_ldif)


class Cases:
    """The measurements of one run: `params` are the counts of its mode
    (common.MODES), `servers` the started Servers."""

    def __init__(self, work, params, ldapmda, servers):
        self.work = work
        self.p = params
        self.ldapmda = ldapmda
        self.servers = servers
        self.results = {}

    def deliver_ldapmda(self, msg_path, raw, out, conf=None, confirmed=None):
        ms, rc, ru = spawn_timed(
            [self.ldapmda, "-c", conf or self.servers.conf, "-f", SENDER, "-d", RECIPIENT],
            msg_path, out)
        verdict = read(out).strip()
        want = f"stored as {message_dn(raw)}"
        if confirmed:
            want += f", confirmed by {confirmed}"
        if rc != 0 or verdict.lower() != want.lower():
            die(f"ldapmda delivery of {msg_path} failed: exit {rc}, said "
                f"{verdict!r}, expected {want!r}")
        return ms

    def add_ldapadd(self, ldif_path, out):
        ms, rc, _ = spawn_timed(
            ["/usr/bin/ldapadd", "-x", "-H", self.servers.uri, "-D", SERVICE_DN,
             "-y", self.servers.service_pw_file, "-f", ldif_path], None, out)
        if rc != 0:
            die(f"ldapadd -f {ldif_path} failed: exit {rc}: {read(out)}")
        return ms

    def deliver_dovecot(self, msg_path, out):
        ms, rc, _ = spawn_timed(
            [DOVECOT_LDA, "-c", self.servers.dovecot_conf, "-d", "alice", "-f", SENDER],
            msg_path, out)
        if rc != 0:
            die(f"dovecot-lda delivery of {msg_path} failed: exit {rc}: {read(out)}"
                + read(os.path.join(self.work.path, "dovecot", "dovecot.log")))
        return ms

    def message_file(self, tag, size=4096):
        raw = make_message(tag, size)
        return self.work.write(f"msg/{tag}.eml", raw), raw

    def ldif_file(self, tag, size=4096):
        raw = make_message(tag, size)
        ldif = ldif_entry(message_dn(raw),
                          entry_attributes(raw, tag, generalized_now()))
        return self.work.write(f"ldif/{tag}.ldif", ldif)

    def self_check(self):
        """ldapmda stores what the LDIF generator writes: same attributes,
        same values (but the delivery time)."""
        path, raw = self.message_file("check-0")
        self.deliver_ldapmda(path, raw, self.work.out("check"))
        got = run(["ldapsearch", "-x", "-H", self.servers.uri, "-D", ADMIN_DN, "-y",
                   self.servers.admin_pw_file, "-LLL", "-o", "ldif-wrap=no", "-b",
                   message_dn(raw), "-s", "base", "*"], "reading back").encode()
        entries = parse_ldif(got)
        if len(entries) != 1:
            die("self-check: ldapmda's entry not found")
        stored = {k: v for k, v in entries[0].items() if k != "dn"}
        want = {}
        for name, value in entry_attributes(raw, "check-0", "x"):
            want.setdefault(name.lower(), []).append(
                value if isinstance(value, bytes) else value.encode())
        stored.pop("mdadeliveredat")
        want.pop("mdadeliveredat")
        if stored != want:
            diff = [f"  {k}: ldapmda {stored.get(k, [b'-'])[0][:80]!r}, "
                    f"bench {want.get(k, [b'-'])[0][:80]!r}"
                    for k in sorted(set(stored) | set(want))
                    if stored.get(k) != want.get(k)]
            die("self-check: the LDIF for ldapadd would differ from what "
                "ldapmda stores:\n" + "\n".join(diff))
        log("self-check: the ldapadd entries carry exactly ldapmda's attributes")

    # -- 1 + 2: pipe mode vs ldapadd vs dovecot-lda -----------------------

    def bench_pipe(self):
        runs, n, w = self.p["runs"], self.p["pipe_n"], self.p["warmup"]
        log(f"\n== 1+2. one process per 4 KiB message: ldapmda, ldapadd, dovecot-lda "
            f"({runs} runs x {n} messages each, interleaved), and where the "
            "time goes: process start alone, start + bind + lookup without a store")
        files = {}
        for r in range(-1, runs):          # run -1: warm-up
            for i in range(w if r < 0 else n):
                files[("ldapmda", r, i)] = self.message_file(f"pipe-m-{r}-{i}")
                files[("ldapadd", r, i)] = self.ldif_file(f"pipe-a-{r}-{i}")
                files[("dovecot", r, i)] = self.message_file(f"pipe-d-{r}-{i}")[0]
        os.sync()
        unknown = "nobody@example.com"
        out = self.work.out("pipe")

        def lookup_only(r, i):
            ms, rc, _ = spawn_timed([self.ldapmda, "-c", self.servers.conf, "-f", SENDER,
                                     "-d", unknown], files[("ldapmda", r, i)][0], out)
            if rc != 67 or not read(out).startswith("5.1.1 "):
                die(f"ldapmda to an unknown address: exit {rc}: {read(out)!r}")
            return ms

        def search_only(r, i):
            ms, rc, _ = spawn_timed(
                ["/usr/bin/ldapsearch", "-x", "-H", self.servers.uri, "-D", SERVICE_DN,
                 "-y", self.servers.service_pw_file, "-b", PEOPLE_DN,
                 f"(mail={unknown})", "1.1"], None, out)
            if rc != 0:
                die(f"ldapsearch: exit {rc}: {read(out)}")
            return ms

        def start_only(argv):
            def go(r, i):
                ms, rc, _ = spawn_timed(argv, None, out)
                if rc != 0:
                    die(f"{' '.join(argv)}: exit {rc}: {read(out)}")
                return ms
            return go

        sides = {
            "ldapmda": lambda r, i: self.deliver_ldapmda(*files[("ldapmda", r, i)], out),
            "ldapadd": lambda r, i: self.add_ldapadd(files[("ldapadd", r, i)], out),
            "dovecot": lambda r, i: self.deliver_dovecot(files[("dovecot", r, i)], out),
            "ldapmda_start": start_only([self.ldapmda, "--version"]),
            "ldapadd_start": start_only(["/usr/bin/ldapadd", "-VV"]),
            "ldapmda_lookup": lookup_only,
            "ldapsearch_lookup": search_only,
        }
        names = list(sides)
        per_run = {s: [] for s in names}
        for r in range(-1, runs):
            total = {s: 0.0 for s in names}
            count = w if r < 0 else n
            for i in range(count):
                k = (r + i) % len(names)
                for s in names[k:] + names[:k]:
                    total[s] += sides[s](r, i)
            if r < 0:
                continue
            for s in names:
                per_run[s].append(total[s] / count)
            log(f"  run {r + 1}: " + ", ".join(
                f"{s} {per_run[s][-1]:.2f}" for s in names[:3]) + " ms/message")
        got = len(os.listdir(os.path.join(self.servers.maildir, "new")))
        if got != (runs * n + w):
            die(f"dovecot-lda: {got} files in Maildir/new, expected {runs * n + w}")
        self.results["pipe"] = per_run

    # -- 3: LMTP sessions vs ldapadd -f connections -----------------------

    LMTP_LEVELS = (1, 2, 4, 8)

    def lmtp_files(self, tag, count):
        """One LMTP session of `count` distinct 4 KiB messages, the LDIF of
        `count` other ones for ldapadd -f, and the last LMTP message."""
        session = [b"LHLO bench.example.org\r\n"]
        ldif = []
        for i in range(count):
            raw = make_message(f"lmtp-m-{tag}-{i}", 4096)
            session.append(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RECIPIENT}>\r\n"
                           "DATA\r\n".encode())
            session.append(lmtp_data(raw))
            a_tag = f"lmtp-a-{tag}-{i}"
            a_raw = make_message(a_tag, 4096)
            ldif.append(ldif_entry(message_dn(a_raw),
                                   entry_attributes(a_raw, a_tag, generalized_now())))
        session.append(b"QUIT\r\n")
        return (self.work.write(f"lmtp/session-{tag}.txt", b"".join(session)),
                self.work.write(f"lmtp/all-{tag}.ldif", b"".join(ldif)), raw)

    def lmtp_side(self, side, files, count):
        """Runs one process per file at once, each over its own connection:
        `ldapmda --lmtp` on a session or `ldapadd -f` on an LDIF. Returns
        the wall time in seconds from the first start to the last exit."""
        def one(k, session, ldif):
            out = self.work.out(f"lmtp-{side}-{k}")
            if side == "ldapmda":
                _, rc, _ = spawn_timed(
                    [self.ldapmda, "-c", self.servers.conf, "--lmtp"], session, out)
                replies = read(out, 1 << 30).splitlines()
                bad = [l for l in replies if l[:1] in ("4", "5")]
                stored = sum(1 for l in replies
                             if l.startswith("250 2.0.0") and ": stored as " in l)
                if (rc != 0 or bad or stored < count
                        or not replies[-1].startswith("221")):
                    die(f"ldapmda --lmtp: exit {rc}, {stored}/{count} stored; "
                        f"first failure: {bad[:1]}; last line {replies[-1:]}")
            else:
                _, rc, _ = spawn_timed(
                    ["/usr/bin/ldapadd", "-x", "-H", self.servers.uri, "-D",
                     SERVICE_DN, "-y", self.servers.service_pw_file, "-f", ldif],
                    None, out)
                if rc != 0:
                    die(f"ldapadd -f {ldif}: exit {rc}: {read(out)}")
        with ThreadPoolExecutor(len(files)) as pool:
            t0 = time.perf_counter()
            started = [pool.submit(one, k, session, ldif)
                       for k, (session, ldif, _) in enumerate(files)]
            for f in started:
                f.result()         # the first failure, after all ended
            return time.perf_counter() - t0

    def bench_lmtp(self):
        runs, n = self.p["runs"], self.p["lmtp_n"]
        levels = self.LMTP_LEVELS
        log(f"\n== 3. ldapmda --lmtp vs ldapadd -f: 1, 2, 4, 8 sessions at once "
            f"against as many ldapadd -f connections ({runs} runs x {n} messages "
            "per side and level, split between the sessions; alternating)")
        files = {}
        for r in range(-1, runs):          # run -1: warm-up, one session
            for c in (levels if r >= 0 else (1,)):
                count = max(5, n // 10) if r < 0 else max(1, n // c)
                files[(r, c)] = [self.lmtp_files(f"{r}-{c}-{k}", count)
                                 for k in range(c)]
        os.sync()
        # rates[c][side]: messages per second of all c sessions together.
        rates = {c: {"ldapmda": [], "ldapadd": []} for c in levels}
        for r in range(-1, runs):
            order = levels[r % 4:] + levels[:r % 4] if r >= 0 else (1,)
            for c in order:
                count = max(5, n // 10) if r < 0 else max(1, n // c)
                sides = ["ldapmda", "ldapadd"] if (r + c) % 2 else ["ldapadd", "ldapmda"]
                for s in sides:
                    dt = self.lmtp_side(s, files[(r, c)], count)
                    if r >= 0:
                        rates[c][s].append(c * count / dt)
            if r >= 0:
                log(f"  run {r + 1}: " + ", ".join(
                    f"{c}: {rates[c]['ldapmda'][-1]:.0f}/s vs "
                    f"{rates[c]['ldapadd'][-1]:.0f}/s" for c in levels))
        # The last LMTP message is where pipe mode would have put it.
        last = files[(runs - 1, 1)][0][2]
        got = run(["ldapsearch", "-x", "-H", self.servers.uri, "-D", ADMIN_DN, "-y",
                   self.servers.admin_pw_file, "-LLL", "-b", message_dn(last),
                   "-s", "base", "mdaSize"], "checking an LMTP entry")
        if "mdaSize: 4096" not in got:
            die("ldapmda --lmtp did not store the message pipe mode would have")
        # "lmtp": one connection, as before (chart, older results).
        self.results["lmtp"] = rates[1]
        self.results["lmtp_sessions"] = rates

    # -- 4: concurrent pipe deliverers ------------------------------------

    def bench_concurrency(self):
        runs, n = self.p["runs"], self.p["conc_n"]
        levels = [1, 2, 4, 8]
        log(f"\n== 4. concurrent pipe deliverers 1, 2, 4, 8 "
            f"({runs} runs x {n} messages per level)")
        files = {}
        for r in range(runs):
            for c in levels:
                files[(r, c)] = [self.message_file(f"conc-{r}-{c}-{i}")
                                 for i in range(n)]
        os.sync()
        rates = {c: [] for c in levels}
        for r in range(runs):
            order = levels[r % 4:] + levels[:r % 4]
            for c in order:
                queue = list(files[(r, c)])
                lock = threading.Lock()
                errors = []

                def worker(k):
                    while True:
                        with lock:
                            if not queue or errors:
                                return
                            path, raw = queue.pop()
                        try:
                            self.deliver_ldapmda(path, raw, self.work.out(f"conc-{k}"))
                        except BenchError as e:
                            errors.append(e)
                            return
                threads = [threading.Thread(target=worker, args=(k,), daemon=True)
                           for k in range(c)]
                t0 = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                dt = time.perf_counter() - t0
                if errors:
                    raise errors[0]
                rates[c].append(n / dt)
            log(f"  run {r + 1}: " + ", ".join(
                f"{c}: {rates[c][-1]:.0f}/s" for c in levels))
        self.results["concurrency"] = rates

    # -- 5: message sizes: wall time and peak RSS -------------------------

    def bench_sizes(self):
        log("\n== 5. 4 KiB, 1 MiB, 10 MiB messages under /usr/bin/time -v")
        res = {}
        for size, runs in self.p["size_runs"].items():
            walls, rss = [], []
            for r in range(runs):
                path, raw = self.message_file(f"size-{size}-{r}", size)
                os.sync()
                tfile = self.work.out("time.txt")
                out = self.work.out("size")
                ms, rc, _ = spawn_timed(
                    [GNU_TIME, "-v", "-o", tfile, self.ldapmda, "-c", self.servers.conf,
                     "-f", SENDER, "-d", RECIPIENT], path, out)
                verdict = read(out).strip()
                if rc != 0 or verdict.lower() != f"stored as {message_dn(raw)}".lower():
                    die(f"ldapmda, {size} bytes: exit {rc}: {verdict!r}")
                m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", read(tfile))
                if not m:
                    die("no 'Maximum resident set size' in /usr/bin/time -v output")
                walls.append(ms)
                rss.append(int(m.group(1)) * 1024)
                os.remove(path)
            res[size] = {"wall_ms": walls, "rss": rss}
            log(f"  {size} bytes: {median(walls):.1f} ms, peak RSS "
                f"{median(rss) / MiB:.1f} MiB ({runs} runs)")
        self.results["sizes"] = res

    # -- 6: two providers --------------------------------------------------

    def bench_replication(self):
        log("\n== 6. two providers (conf/slapd-multiprovider.conf): "
            "delivery latency and time until visible on the other node")
        uris, pair, poller = self.servers.start_pair()
        # The same shipped configuration, once without and once with the
        # write concern (confirm_host = node 2), delivered alternately.
        conf = self.servers.ldapmda_conf("ldapmda-node1.conf", pair)
        confirm_conf = self.work.write(
            "ldapmda-node1-confirm.conf",
            read(conf, limit=None) + f"\nconfirm_host = {uris[1]}\n")
        res = {}
        for size, n in self.p["repl_n"].items():
            msgs = [self.message_file(f"repl-{size}-{i}", size)
                    for i in range(2 * (n + 1))]
            os.sync()
            lat, conf_lat, lag = [], [], []
            for i in range(n + 1):
                # Without: the delivery, then how long until node 2 has it.
                path, raw = msgs[2 * i]
                dn = message_dn(raw)
                w = self.deliver_ldapmda(path, raw, self.work.out("repl"), conf)
                t1 = time.perf_counter()
                while not poller.exists(dn):
                    if time.perf_counter() - t1 > 30:
                        die(f"{dn} not on node 2 after 30 s")
                    time.sleep(0.0002)
                t2 = time.perf_counter()
                # With: ldapmda itself waits until node 2 has it.
                path, raw = msgs[2 * i + 1]
                c = self.deliver_ldapmda(path, raw, self.work.out("repl-confirm"),
                                         confirm_conf, "1 of 1 replicas")
                if not poller.exists(message_dn(raw)):
                    die("ldapmda confirmed a message node 2 does not have")
                if i == 0:
                    continue      # warm-up
                lat.append(w)
                conf_lat.append(c)
                lag.append((t2 - t1) * 1000)
            res[size] = {"without": lat, "with": conf_lat, "lag": lag}
            log(f"  {size} bytes: {median(lat):.2f} ms without, "
                f"{median(conf_lat):.2f} ms with confirmation, replication "
                f"lag {median(lag):.2f} ms ({n} deliveries each)")
        poller.close()
        self.results["replication"] = res
        pair.stop()


def fsync_probe(work, n=20):
    """Median time to write 4 KiB and fdatasync it in the work directory:
    the floor under every fsynced store on this disk."""
    path = os.path.join(work.path, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    times = []
    try:
        for i in range(n):
            os.pwrite(fd, os.urandom(4096), i * 4096)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        os.remove(path)
    return median(times)
