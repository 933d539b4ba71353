"""The directory's side of the throughput: what the indexes of the shipped
provider configuration cost each add (against equality-only and against
all the search indexes the providers used to carry), how fast the
README's searches run on the search replica (against a provider that
still carries every index), and what dbnosync on the providers gives
when ldapmda's write concern is on. Each compares with its reference in
the same run, interleaved."""

import os

from .common import (ADMIN_DN, MAILBOX_DN, PEOPLE_DN, RECIPIENT, ROOT, SENDER,
                     SERVICE_DN, die, log, median, read, spawn_timed)
from .messages import (entry_attributes, generalized_now, ldif_entry,
                       lmtp_data, make_message, message_dn)
from .servers import LdapPoller

# The index sets compared. "equality" is what delivery itself searches
# for (the recipient lookup, the message key); "shipped" is
# conf/slapd.conf as it is; "all" is every index of the search replica,
# which is what conf/slapd.conf carried before the replica existed.
EQUALITY_ONLY = "index\tobjectClass,mail,uid,mdaKey\teq\n"
INDEX_SETS = ("equality", "shipped", "all")

# The searches of the README ("Finding mail in the directory", "Bounces
# and complaints"), with the mailbox of the bench's data. (name, base,
# filter, attributes)
README_SEARCHES = [
    ("subject", MAILBOX_DN,
     "(&(objectClass=mdaMessage)(mdaSubject=*invoice*))",
     ["mdaDate", "mdaFrom", "mdaSubject"]),
    ("large since", PEOPLE_DN,
     "(&(mdaSize>=5000000)(mdaDeliveredAt>=20261101000000Z))", ["mdaSize"]),
    ("hard bounces since", MAILBOX_DN,
     "(&(objectClass=mdaReport)(mdaDsnResult=failed;5.*)"
     "(mdaDeliveredAt>=20000101000000Z))", ["mdaDsnResult", "mdaDsnDiagnostic"]),
    ("bounced ever", PEOPLE_DN, "(mdaDsnResult=failed;5.*;bob@example.org)",
     ["1.1"]),
    ("only delayed", PEOPLE_DN,
     "(&(mdaDsnRecipient=erin@example.org)(mdaDsnAction=delayed))",
     ["mdaDsnStatus"]),
    ("one mailing", PEOPLE_DN, "(mdaReportedMessageId=minutes.7@example.com)",
     ["mdaDsnResult"]),
    ("complaints", PEOPLE_DN,
     "(&(mdaArfFeedbackType=abuse)(mdaArfSourceIp=192.0.2.25))",
     ["mdaArfOriginalRcptTo"]),
    ("VERP", PEOPLE_DN, "(mdaVerpRecipient=bob@example.org)", ["mdaDsnStatus"]),
]


def report_attributes(i):
    """Report attributes for some of the search data: every 10th message
    is a bounce (failed or delayed, some for a mailing, some VERP), every
    25th a complaint."""
    if i % 25 == 3:
        return [("objectClass", "mdaReport"),
                ("mdaReportType", "feedback-report"),
                ("mdaArfFeedbackType", "abuse"),
                ("mdaArfSourceIp", "192.0.2.25" if i % 50 == 3 else "192.0.2.99"),
                ("mdaArfOriginalRcptTo", f"user{i}@example.net")]
    if i % 10 != 1:
        return []
    who = "bob@example.org" if i % 30 == 1 else f"user{i}@example.org"
    action, status = ("delayed", "4.4.1") if i % 20 == 11 else ("failed", "5.1.1")
    if i % 40 == 11:
        who = "erin@example.org"
    attrs = [("objectClass", "mdaReport"),
             ("mdaReportType", "delivery-status"),
             ("mdaDsnRecipient", who), ("mdaDsnAction", action),
             ("mdaDsnStatus", status),
             ("mdaDsnResult", f"{action};{status};{who}"),
             ("mdaDsnDiagnostic", f"550 {status} <{who}>: User unknown"),
             ("mdaReportedMessageId", f"minutes.{(i // 10) % 8}@example.com")]
    if i % 60 == 1:
        attrs.append(("mdaVerpRecipient", who))
    return attrs


def search_entry(i):
    """One message of the search data; every 10th has "invoice" in its
    subject."""
    tag = f"search-{i}" + ("-invoice" if i % 10 == 5 else "")
    raw = make_message(tag, 4096)
    return ldif_entry(message_dn(raw), entry_attributes(raw, tag, generalized_now())
                      + report_attributes(i))


def interleaved_rates(sides, runs, n, measure):
    """Runs measure(side, run) -> milliseconds for n items, for each side
    in a rotating order, after a warm-up run (-1, max(5, n // 10) items);
    items per second of each side and run."""
    rates = {s: [] for s in sides}
    for r in range(-1, runs):
        k = r % len(sides)
        for s in sides[k:] + sides[:k]:
            ms = measure(s, r)
            if r >= 0:
                rates[s].append(n / (ms / 1000))
        if r >= 0:
            log(f"  run {r + 1}: " + ", ".join(
                f"{s} {rates[s][-1]:.0f}/s" for s in sides))
    return rates


class DirectoryCases:
    """Rows 7-9 of the report; `cases` is the run's Cases (results, work
    directory, counts, ldapmda), `servers` its Servers."""

    def __init__(self, cases, servers):
        self.c = cases
        self.work = cases.work
        self.p = cases.p
        self.servers = servers

    def ldapadd(self, uri, pw_file, ldif, out):
        ms, rc, _ = spawn_timed(
            ["/usr/bin/ldapadd", "-x", "-H", uri, "-D", SERVICE_DN, "-y", pw_file,
             "-f", ldif], None, out)
        if rc != 0:
            said = [line for line in read(out, None).splitlines()
                    if not line.startswith("adding new entry") and line.strip()]
            die(f"ldapadd -f {ldif} on {uri}: exit {rc}: " + "\n".join(said[-10:]))
        return ms

    def ldif_batch(self, name, count):
        entries = []
        for i in range(count):
            tag = f"{name}-{i}"
            raw = make_message(tag, 4096)
            entries.append(ldif_entry(message_dn(raw),
                                      entry_attributes(raw, tag, generalized_now())))
        return self.work.write(f"ldif/{name}.ldif", b"".join(entries))

    # -- 7: the write ceiling of the shipped provider indexes --------------

    def index_servers(self):
        """conf/slapd.conf (fsync on) three times: as shipped, with its
        index lines replaced by equality-only ones, and by all those of
        conf/slapd-replica.conf."""
        eq = self.work.write("indexes-equality.conf", EQUALITY_ONLY)
        every = os.path.join(ROOT, "conf", "slapd-replica.conf")
        if not hasattr(self.servers, "by_indexes"):
            self.servers.by_indexes = {
                "equality": self.servers.start_slapd(
                    "slapd-equality", "--config", "shipped", "--indexes-from", eq),
                "shipped": self.servers.slapd,
                "all": self.servers.start_slapd(
                    "slapd-all-indexes", "--config", "shipped",
                    "--indexes-from", every),
            }
        return self.servers.by_indexes

    def bench_indexes(self):
        runs, n = self.p["runs"], self.p["index_n"]
        chunk = self.p["index_chunk"]
        log(f"\n== 7. what indexes cost each add: ldapadd -f of {n} 4 KiB "
            f"entries per run into conf/slapd.conf as shipped, with "
            f"equality-only and with all search indexes ({runs} runs; the "
            f"sides take turns every {chunk} entries, in a rotating order, so "
            f"that a disk that slows down for a while slows all of them)")
        servers = self.index_servers()
        chunks = {r: (n if r >= 0 else max(chunk, n // 10)) // chunk
                  for r in range(-1, runs)}
        files = {(s, r, k): self.ldif_batch(f"index-{s}-{r}-{k}", chunk)
                 for s in INDEX_SETS for r in range(-1, runs)
                 for k in range(chunks[r])}
        os.sync()

        def add(s, r):
            info = servers[s].info
            return self.ldapadd(info["uri"], info["service_pw_file"],
                                files[(s, r, k)], self.work.out(f"index-{s}"))
        rates = {s: [] for s in INDEX_SETS}
        for r in range(-1, runs):
            total = {s: 0.0 for s in INDEX_SETS}
            for k in range(chunks[r]):
                j = (r + k) % len(INDEX_SETS)
                for s in INDEX_SETS[j:] + INDEX_SETS[:j]:
                    total[s] += add(s, r)
            if r < 0:
                continue
            for s in INDEX_SETS:
                rates[s].append(chunks[r] * chunk / (total[s] / 1000))
            log(f"  run {r + 1}: " + ", ".join(
                f"{s} {rates[s][-1]:.0f}/s" for s in INDEX_SETS))
        self.c.results["indexes"] = rates

    # -- 8: the README's searches: replica vs a provider with every index --

    def load_search_data(self, targets, n):
        """The same n messages (some invoices, bounces, complaints) into
        each of `targets` (uri, service_pw_file), in batches of 500."""
        log(f"  loading {n} messages into {len(targets)} directories")
        for b in range(0, n, 500):
            ldif = self.work.write(
                f"ldif/search-{b}.ldif",
                b"".join(search_entry(i) for i in range(b, min(n, b + 500))))
            for uri, pw in targets:
                self.ldapadd(uri, pw, ldif, self.work.out("search-load"))
            os.remove(ldif)

    def search(self, uri, admin_pw_file, search, out, repeat):
        """One ldapsearch process that runs `search` `repeat` times over
        one connection (-f: one search per line, each put into the filter
        pattern, which must contain "=" or ldapsearch takes it for an
        attribute), so that the time is the server's and the client's per
        search, not a process start each.
        Returns (milliseconds per search, entries found per search)."""
        _, base, flt, attrs = search
        lines = self.work.write("search-filters.txt", (flt + "\n") * repeat)
        ms, rc, _ = spawn_timed(
            ["/usr/bin/ldapsearch", "-x", "-H", uri, "-D", ADMIN_DN, "-y", admin_pw_file,
             "-LLL", "-o", "ldif-wrap=no", "-b", base, "-f", lines,
             "(&(objectClass=*)%s)", *attrs],
            None, out)
        if rc != 0:
            die(f"ldapsearch {flt} on {uri}: exit {rc}: {read(out)}")
        found = sum(1 for line in read(out, None).splitlines()
                    if line.startswith("dn: "))
        if found % repeat:
            die(f"ldapsearch {flt} on {uri}: {found} entries in {repeat} searches")
        return ms / repeat, found // repeat

    def bench_searches(self):
        runs, n = self.p["runs"], self.p["search_n"]
        log(f"\n== 8. the README's {len(README_SEARCHES)} searches over {n} "
            f"messages: the search replica (conf/slapd-replica.conf) vs a "
            f"provider with every index (conf/slapd.conf with the replica's "
            f"indexes) vs the shipped provider ({runs} runs, rotating order)")
        repl = self.servers.start_slapd("replica", "--config", "replica")
        info = repl.info
        # Fresh directories of the same size: the replica's pair and two
        # new single servers; the write case's entries are not in them.
        shipped = self.servers.start_slapd("slapd-search-shipped", "--config",
                                           "shipped")
        every = self.servers.start_slapd(
            "slapd-search-all", "--config", "shipped", "--indexes-from",
            os.path.join(ROOT, "conf", "slapd-replica.conf"))
        self.load_search_data([(info["uri"], info["service_pw_file"]),
                               (shipped.info["uri"], shipped.info["service_pw_file"]),
                               (every.info["uri"], every.info["service_pw_file"])], n)
        # Wait until the replica has the last one.
        last = search_entry(n - 1).split(b"\n", 1)[0].decode()[4:]
        poller = LdapPoller(info["replica_port"], ADMIN_DN, info["admin_password"])
        poller.wait_for(last, 120, "the search replica did not catch up",
                        interval=0.05)
        poller.close()
        sides = {"replica": (info["replica_uri"], info["admin_pw_file"]),
                 "all indexes": (every.info["uri"], every.info["admin_pw_file"]),
                 "shipped": (shipped.info["uri"], shipped.info["admin_pw_file"])}
        names = list(sides)
        per_run = {s: [] for s in names}
        per_search = {s: {q[0]: [] for q in README_SEARCHES} for s in names}
        counts = {}
        for r in range(-1, runs):
            k = r % len(names)
            total = {s: 0.0 for s in names}
            for q in README_SEARCHES:
                for s in names[k:] + names[:k]:
                    ms, found = self.search(*sides[s], q, self.work.out("search"),
                                            self.p["search_repeat"])
                    if counts.setdefault(q[0], found) != found:
                        die(f"search {q[0]!r}: {s} found {found} entries, "
                            f"another side {counts[q[0]]}")
                    total[s] += ms
                    if r >= 0:
                        per_search[s][q[0]].append(ms)
            if r < 0:
                continue
            for s in names:
                per_run[s].append(total[s])
            log(f"  run {r + 1}: " + ", ".join(
                f"{s} {per_run[s][-1]:.1f} ms" for s in names)
                + f" for all {len(README_SEARCHES)}")
        for q in README_SEARCHES:
            log(f"  {q[0]} ({counts[q[0]]} found): " + ", ".join(
                f"{s} {median(per_search[s][q[0]]):.2f} ms" for s in names))
        # What search_entry() made: a tenth invoices, nothing of 5 MB.
        invoices = sum(1 for i in range(n) if i % 10 == 5)
        if (counts["subject"] != invoices or counts["large since"] != 0
                or not all(counts[q[0]] for q in README_SEARCHES
                           if q[0] != "large since")):
            die(f"the searches did not find what was loaded: {counts}")
        self.c.results["searches"] = {"total": per_run, "per_search": per_search,
                                      "found": counts, "messages": n}
        for s in (repl, shipped, every):
            s.stop()

    # -- 9: dbnosync on the providers, write concern on --------------------

    def lmtp_session(self, name, count):
        session = [b"LHLO bench.example.org\r\n"]
        last = None
        for i in range(count):
            raw = make_message(f"{name}-{i}", 4096)
            session.append(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RECIPIENT}>\r\n"
                           "DATA\r\n".encode())
            session.append(lmtp_data(raw))
            last = raw
        session.append(b"QUIT\r\n")
        return self.work.write(f"lmtp/{name}.txt", b"".join(session)), last

    def lmtp(self, conf, session, count, out):
        ms, rc, _ = spawn_timed([self.c.ldapmda, "-c", conf, "--lmtp"], session, out)
        replies = read(out, 1 << 30).splitlines()
        ok = sum(1 for l in replies if l.startswith("250 2.0.0")
                 and "confirmed by 1 of 1" in l)
        if rc != 0 or ok != count:
            bad = [l for l in replies if l[:1] in ("4", "5")]
            die(f"ldapmda --lmtp with confirmation: exit {rc}, {ok}/{count} "
                f"stored and confirmed; first failure {bad[:1]}")
        return ms

    def bench_nosync(self):
        runs, n = self.p["runs"], self.p["nosync_n"]
        log(f"\n== 9. two providers, write concern on (confirm_host = node 2, "
            f"confirm_count = 1): ldapmda --lmtp, {n} messages per run, with "
            f"the shipped fsync vs dbnosync + checkpoint ({runs} runs, alternating)")
        pairs = {"fsync": self.servers.start_slapd("pair-fsync", "--config", "pair"),
                 "dbnosync": self.servers.start_slapd(
                     "pair-nosync", "--config", "pair", "--provider-nosync",
                     fsync=False)}
        confs = {}
        for s, pair in pairs.items():
            conf = self.servers.ldapmda_conf(f"ldapmda-{s}.conf", pair)
            confs[s] = self.work.write(
                f"ldapmda-{s}-confirm.conf", read(conf, limit=None)
                + f"\nconfirm_host = {pair.info['node2_uri']}\nconfirm_count = 1\n")
        files = {(s, r): self.lmtp_session(f"nosync-{s}-{r}",
                                           n if r >= 0 else max(5, n // 10))
                 for s in pairs for r in range(-1, runs)}
        os.sync()
        def deliver(s, r):
            return self.lmtp(confs[s], files[(s, r)][0], n if r >= 0 else max(5, n // 10),
                             self.work.out(f"nosync-{s}"))
        self.c.results["nosync"] = interleaved_rates(list(pairs), runs, n, deliver)
        for pair in pairs.values():
            pair.stop()

