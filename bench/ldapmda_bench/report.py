"""The report of a run: the table printed on stdout, the chart, the
results as JSON, and docs/BENCHMARKS.md from bench/BENCHMARKS.md.in."""

import datetime
import json
import os
import platform
import re
import subprocess
import sys

from .common import KiB, MiB, ROOT, die, log, median, run, size_label


def machine(work, version, build_type, fsync_ms, load):
    """What the figures were measured on, for the report."""
    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True,
                                  shell=True).stdout.strip()
        except OSError:
            return "?"
    cpu = sh("sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | sort | uniq -c "
             "| sed 's/^ *//'")
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    commit = sh(f"git -C {ROOT} describe --always --dirty --abbrev=10 "
                "2>/dev/null") or "unknown"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "debian": sh("cat /etc/debian_version"),
        "slapd": sh("dpkg-query -W -f '${Version}' slapd"),
        "ldap-utils": sh("dpkg-query -W -f '${Version}' ldap-utils"),
        "dovecot-core": sh("dpkg-query -W -f '${Version}' dovecot-core"),
        "ldapmda": f"{version}, commit {commit}, "
                   f"{build_type} build",
        "filesystem": sh(f"df -T {work.path} | awk 'NR==2 {{print $2}}'"),
        "fdatasync_ms": fsync_ms,
        "syslog": ("a syslog daemon listens on /dev/log: ldapmda's and "
                   "slapd's log lines are part of the cost"
                   if os.path.exists("/dev/log") else
                   "no /dev/log on this machine: ldapmda's and slapd's log "
                   "lines (syslog) are dropped at once, so their cost is "
                   "missing here"),
        "load": load,
    }


class Report:
    """The figures of a run (or of an earlier one, load_json) and what is
    made of them. `args` are bench/run's options (out, write_docs,
    skip_replication)."""

    def __init__(self, work, args, mode, params, results=None,
                 machine_info=None, load=None, preliminary=False):
        self.work = work
        self.args = args
        self.skip_replication = args.skip_replication
        self.mode = mode
        self.p = params
        self.results = results or {}
        self.machine_info = machine_info
        self.load = load
        self.preliminary = preliminary

    def table(self):
        R = self.results
        rows = []

        class Unit:
            def __init__(self, fmt, unit):
                self.fmt, self.unit = fmt, unit

            def __call__(self, x):
                return self.fmt.format(x) + self.unit

        def rng(xs, u):
            if len(xs) < 2:
                return u(median(xs))
            return (f"{u(median(xs))} ({u.fmt.format(min(xs))}–"
                    f"{u.fmt.format(max(xs))})")

        ms = Unit("{:.2f}", " ms")
        rate = Unit("{:,.0f}", "/s")

        def verdict(ok):
            return "met" if ok else "**not met**"

        if "pipe" in R:
            m, a, d = (median(R["pipe"][s]) for s in ("ldapmda", "ldapadd", "dovecot"))
            rows.append(("1", "pipe mode, 4 KiB, one process per message: "
                         "time per message (process start, lookup, store)",
                         rng(R["pipe"]["ldapmda"], ms),
                         "ldapadd, same entry: " + rng(R["pipe"]["ldapadd"], ms),
                         f"{m / a:.2f}×", f"≤ 1.0×: {verdict(m / a <= 1.0)}"))
            for key, label, other, olabel in (
                    ("ldapmda_start", "of which process start alone: "
                     "`ldapmda --version`", "ldapadd_start", "`ldapadd -VV`"),
                    ("ldapmda_lookup", "of which start, connect, bind and "
                     "lookup without a store: ldapmda to an unknown address "
                     "(5.1.1)", "ldapsearch_lookup",
                     "`ldapsearch` of that address as the service DN")):
                if key in R["pipe"]:
                    x, y = median(R["pipe"][key]), median(R["pipe"][other])
                    rows.append(("1" + "ab"[key == "ldapmda_lookup"], label,
                                 rng(R["pipe"][key], ms),
                                 f"{olabel}: " + rng(R["pipe"][other], ms),
                                 f"{x / y:.2f}×", "–"))
            rows.append(("2", "the same messages, one process each, "
                         "dovecot-lda into a Maildir (fsync)",
                         ms(m), "dovecot-lda: " + rng(R["pipe"]["dovecot"], ms),
                         f"{m / d:.2f}×", "–"))
        if "lmtp_sessions" in R:
            for c, v in R["lmtp_sessions"].items():
                m, a = median(v["ldapmda"]), median(v["ldapadd"])
                what = ("one LMTP session" if c == 1 else
                        f"{c} LMTP sessions at once")
                other = ("ldapadd -f, one connection" if c == 1 else
                         f"{c} × ldapadd -f at once")
                rows.append(("3", f"{what}, {self.p['lmtp_n']} 4 KiB messages "
                             "in all: messages per second",
                             rng(v["ldapmda"], rate), f"{other}: " +
                             rng(v["ldapadd"], rate), f"{m / a:.2f}×",
                             f"≥ 0.9×: {verdict(m / a >= 0.9)}"))
        elif "lmtp" in R:
            m, a = median(R["lmtp"]["ldapmda"]), median(R["lmtp"]["ldapadd"])
            rows.append(("3", f"LMTP over one connection, {self.p['lmtp_n']} "
                         "4 KiB messages: messages per second",
                         rng(R["lmtp"]["ldapmda"], rate),
                         "ldapadd -f, one connection: " + rng(R["lmtp"]["ldapadd"], rate),
                         f"{m / a:.2f}×", f"≥ 0.9×: {verdict(m / a >= 0.9)}"))
        if "concurrency" in R:
            one = median(R["concurrency"][1])
            for c, xs in R["concurrency"].items():
                rows.append(("4", f"{c} concurrent pipe deliverer{'s' if c > 1 else ''}: "
                             "messages per second", rng(xs, rate),
                             "1 deliverer" if c > 1 else "–",
                             f"{median(xs) / one:.2f}×" if c > 1 else "–", "–"))
        if "sizes" in R:
            for size, v in R["sizes"].items():
                rss = median(v["rss"])
                limit = 2 * size + 10 * MiB
                rows.append(("5", f"{size_label(size)} message, pipe mode: wall time, "
                             "peak RSS (`/usr/bin/time -v`)",
                             f"{median(v['wall_ms']):,.1f} ms, {rss / MiB:.1f} MiB",
                             f"2 × size + 10 MiB = {limit / MiB:.1f} MiB",
                             f"RSS = {rss / size:,.1f} × size",
                             f"≤ 2 × size + 10 MiB: {verdict(rss <= limit)}"))
        if "replication" in R:
            for size, v in R["replication"].items():
                label = size_label(size)
                w, c = median(v["without"]), median(v["with"])
                rows.append(("6", f"two providers, {label}: delivery latency "
                             "without → with replica confirmation "
                             "(`confirm_host` = node 2)",
                             rng(v["without"], ms),
                             "with: " + rng(v["with"], ms),
                             f"{c / w:.2f}×", "–"))
        elif self.skip_replication:
            rows.append(("6", "two providers: latency with/without replica "
                         "confirmation", "not measured (--skip-replication)",
                         "–", "–", "–"))
        rows += self.directory_rows(rng, ms, rate, verdict)
        if "imap" in R:
            im = R["imap"]
            for key, label, target in (
                    ("fetch", f"IMAP `FETCH 1:* (BODY.PEEK[])` of "
                     f"{im['fetch_n']:,} 4 KiB messages, indexed mailbox, "
                     "Dovecot with the ldapmda plugin", 2.0),
                    ("select", f"IMAP `SELECT` of an indexed "
                     f"{im['select_n']:,}-message mailbox, new session "
                     "(the session's first command that needs the store: "
                     "it opens it)", None),
                    ("login_select", f"IMAP connection, `LOGIN` and "
                     f"`SELECT` of the indexed {im['select_n']:,}-message "
                     "mailbox, new session", None),
                    ("reselect", f"IMAP `SELECT` of an indexed "
                     f"{im['select_n']:,}-message mailbox, in a session "
                     "that had another folder open", 1.5),
                    ("first_select", f"first `SELECT` of the "
                     f"{im['select_n']:,}-message mailbox (Dovecot builds "
                     "its index; the driver gives out UIDs)", None)):
                if key not in im:
                    continue  # a run from before the row existed
                x, y = median(im[key]["ldapmda"]), median(im[key]["maildir"])
                rows.append(("10", label, rng(im[key]["ldapmda"], ms),
                             "Dovecot's maildir, same messages: "
                             + rng(im[key]["maildir"], ms), f"{x / y:.2f}×",
                             f"≤ {target}×: {verdict(x / y <= target)}"
                             if target else "–"))
        elif getattr(self.args, "skip_imap", False):
            rows.append(("10", "IMAP FETCH and SELECT against Dovecot's maildir",
                         "not measured (--skip-imap)", "–", "–", "–"))
        head = ("#", "measurement", "ldapmda", "compared with", "ratio", "target")
        lines = ["| " + " | ".join(head) + " |",
                 "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)

    def directory_rows(self, rng, ms, rate, verdict):
        """Rows 7-9: the directory's configuration (bench/ldapmda_bench/
        directory.py)."""
        R, rows = self.results, []
        if "indexes" in R:
            x = R["indexes"]
            eq = median(x["equality"])
            n = self.p.get("index_n", "?")
            for key, label, target in (
                    ("shipped", "write ceiling of the shipped provider indexes "
                     f"(conf/slapd.conf): `ldapadd -f` of {n} 4 KiB entries, "
                     "adds per second", lambda r: f"≥ 0.8×: {verdict(r >= 0.8)}"),
                    ("all", "the same with every search index (the provider "
                     "indexes before the search replica)", lambda r: "–")):
                r = median(x[key]) / eq
                rows.append(("7" if key == "shipped" else "7a", label,
                             rng(x[key], rate),
                             "equality-only (objectClass, mail, uid, mdaKey): "
                             + rng(x["equality"], rate), f"{r:.2f}×", target(r)))
        if "searches" in R:
            s = R["searches"]
            tot, n = s["total"], s["messages"]
            every = median(tot["all indexes"])
            q = len(s["per_search"]["replica"])
            r = median(tot["replica"]) / every
            rows.append(("8", f"the README's {q} searches over {n:,} messages, "
                         "time per search summed over the searches: search replica "
                         "(conf/slapd-replica.conf)", rng(tot["replica"], ms),
                         "a provider with every index (as shipped before): "
                         + rng(tot["all indexes"], ms), f"{r:.2f}×",
                         f"≤ 1.0× (no slower): {verdict(r <= 1.0)}"))
            rows.append(("8a", "the same searches on the shipped provider "
                         "(no search indexes)", rng(tot["shipped"], ms),
                         "every index: " + ms(every),
                         f"{median(tot['shipped']) / every:.2f}×", "–"))
        if "nosync" in R:
            x = R["nosync"]
            r = median(x["dbnosync"]) / median(x["fsync"])
            rows.append(("9", "two providers, write concern on (`confirm_host` "
                         "= node 2, `confirm_count = 1`), `ldapmda --lmtp`, "
                         f"{self.p.get('nosync_n', '?')} 4 KiB messages: "
                         "stores per second with `dbnosync` + `checkpoint 0 1`",
                         rng(x["dbnosync"], rate),
                         "fsync (as shipped): " + rng(x["fsync"], rate),
                         f"{r:.2f}×", "– (off by default)"))
        return rows

    def directory_meaning(self):
        """The paragraphs on rows 7-9."""
        R, out = self.results, []
        met = lambda ok: "met" if ok else "**not met**"
        if "indexes" in R:
            x = {k: median(v) for k, v in R["indexes"].items()}
            s, a = x["shipped"] / x["equality"], x["all"] / x["equality"]
            out.append(
                f"**Indexes.** Every index costs each add: slapd writes one "
                f"key per value for an equality index, and dozens for a "
                f"substring index. With every search index, the provider "
                f"took {x['all']:,.0f} adds per second, {a:.2f}× the "
                f"{x['equality']:,.0f}/s it takes with only the equality "
                f"indexes delivery needs. The shipped provider configuration "
                f"keeps only what delivery, the Dovecot driver and "
                f"replication search for, and took {x['shipped']:,.0f}/s, "
                f"{s:.2f}×; the target of at least 0.8× is {met(s >= 0.8)}. "
                f"The search indexes moved to the search replica "
                f"(conf/slapd-replica.conf), where they cost only its own "
                f"replication.")
        if "searches" in R:
            sr = R["searches"]
            t = {k: median(v) for k, v in sr["total"].items()}
            r = t["replica"] / t["all indexes"]
            out.append(
                f"**Searches on the replica.** The README's "
                f"{len(sr['per_search']['replica'])} searches over "
                f"{sr['messages']:,} messages took {t['replica']:.2f} ms "
                f"together (per search, over one connection) on the search "
                f"replica and "
                f"{t['all indexes']:.2f} ms on a provider that still carries "
                f"every index ({r:.2f}×; the target of no slower is "
                f"{met(r <= 1.0)}). Both found the same entries. On the lean "
                f"provider, where slapd reads every entry of the search's "
                f"scope, they took {t['shipped']:.2f} ms "
                f"({t['shipped'] / t['all indexes']:.2f}×). That gap grows "
                f"with the directory, and with a replica it is work the "
                f"providers no longer do at all.")
        if "nosync" in R:
            x = {k: median(v) for k, v in R["nosync"].items()}
            out.append(
                f"**dbnosync.** With the write concern on, a message is on "
                f"both providers before Postfix hears \"sent\". Not syncing "
                f"each commit to disk on the providers (`dbnosync`, flushed "
                f"by `checkpoint 0 1` every minute) raised LMTP deliveries "
                f"with confirmation from {x['fsync']:,.0f} to "
                f"{x['dbnosync']:,.0f} per second "
                f"({x['dbnosync'] / x['fsync']:.2f}×). It stays off by "
                f"default: if both providers lose power or crash within the "
                f"same minute, the mail of that minute is lost although "
                f"Postfix has dropped its copy, and LMDB may need restoring "
                f"(README, \"Replicated directories\"; conf/slapd-multiprovider.conf).")
        return out

    def chart(self, png):
        R = self.results
        pm = {s: median(R["pipe"][s]) for s in ("ldapmda", "ldapadd", "dovecot")}
        lm = {s: median(R["lmtp"][s]) for s in ("ldapmda", "ldapadd")}
        conc = {c: median(v) for c, v in R["concurrency"].items()}
        title = "ldapmda benchmark" + (" (PRELIMINARY: busy machine)"
                                       if self.preliminary else "")
        gp = f"""set terminal pngcairo size 1500,600 font "DejaVu Sans,12"
set output "{png}"
set multiplot layout 1,3 title "{title}, {self.mode} run, {self.machine_info['nproc']} cores, {self.machine_info['date']}" font ",14"
set style data histograms
set style fill solid 0.85 border -1
set boxwidth 0.6
set grid ytics
set yrange [0:*]
set xtics nomirror
set key off
set offsets 0, 0, graph 0.12, 0
set bmargin 5
$pipe << EOD
"ldapmda\\n(pipe mode)" {pm['ldapmda']:.3f} 0x3b7dd8
"ldapadd\\n(same entry)" {pm['ldapadd']:.3f} 0x8c8c8c
"dovecot-lda\\n(Maildir)" {pm['dovecot']:.3f} 0xe08a2c
EOD
set title "One process per 4 KiB message\\nldapmda = {pm['ldapmda'] / pm['ldapadd']:.2f} × ldapadd\\nms per message (lower is better)"
set ylabel "ms per message"
plot $pipe using 0:2:3:xtic(1) with boxes lc rgb variable, \\
     '' using 0:2:(sprintf("%.2f", $2)) with labels offset 0,1
$lmtp << EOD
"ldapmda --lmtp" {lm['ldapmda']:.1f} 0x3b7dd8
"ldapadd -f\\n(same entries)" {lm['ldapadd']:.1f} 0x8c8c8c
EOD
set title "One connection, {self.p['lmtp_n']} × 4 KiB\\nldapmda = {lm['ldapmda'] / lm['ldapadd']:.2f} × ldapadd -f\\nmessages per second (higher is better)"
set ylabel "messages per second"
plot $lmtp using 0:2:3:xtic(1) with boxes lc rgb variable, \\
     '' using 0:2:(sprintf("%.0f", $2)) with labels offset 0,1
$conc << EOD
"1" {conc[1]:.1f}
"2" {conc[2]:.1f}
"4" {conc[4]:.1f}
"8" {conc[8]:.1f}
EOD
set title "Concurrent pipe deliverers, 4 KiB\\nbest: {max(conc.values()) / conc[1]:.2f} × one deliverer\\nmessages per second (higher is better)"
set ylabel "messages per second"
set xlabel "ldapmda processes at once"
plot $conc using 0:2:xtic(1) with boxes lc rgb "#3b7dd8", \\
     '' using 0:2:(sprintf("%.0f", $2)) with labels offset 0,1
unset multiplot
"""
        path = self.work.write("chart.gp", gp)
        run(["gnuplot", path], "gnuplot")

    def load_json(self, path):
        """Takes the results of an earlier run (results.json or
        bench/last-run.json) to print or publish them again."""
        with open(path) as f:
            data = json.load(f)
        self.mode = data["mode"]
        p = data["params"]
        for k in ("size_runs", "repl_n"):
            p[k] = {int(a): b for a, b in p[k].items()}
        self.p = p
        self.machine_info = data["machine"]
        self.load = tuple(self.machine_info["load"])
        self.preliminary = data["preliminary"]
        r = data["results"]
        for k in ("concurrency", "sizes", "replication", "lmtp_sessions"):
            if k in r:
                r[k] = {int(a): b for a, b in r[k].items()}
        for k in ("index_n", "search_n", "nosync_n"):
            p.setdefault(k, "?")
        self.results = r
        return data["elapsed_s"]

    def publish(self, elapsed):
        mi = self.machine_info
        table = self.table()
        status = ("PRELIMINARY: the machine was busy (load average "
                  f"{self.load[0]:.2f} at the start, {self.load[1]:.2f} at the end)"
                  if self.preliminary else
                  f"quiet machine (load average {self.load[0]:.2f} at the "
                  f"start, {self.load[1]:.2f} at the end)")
        print(f"ldapmda benchmark, {self.mode} mode, {mi['date']}, "
              f"{elapsed / 60:.1f} minutes -- {status}")
        print(f"{mi['nproc']} × {mi['cpu'].split(' ', 1)[-1]}, {mi['memory']}, "
              f"Linux {mi['kernel']}, Debian {mi['debian']}, slapd {mi['slapd']}, "
              f"dovecot {mi['dovecot-core']}, ldapmda {mi['ldapmda']}, "
              f"data on {mi['filesystem']} (4 KiB write + fdatasync: "
              f"{mi['fdatasync_ms']:.2f} ms)")
        print()
        print(table)
        sys.stdout.flush()
        data = {"mode": self.mode, "params": {k: (v if not isinstance(v, dict) else
                                                   {str(a): b for a, b in v.items()})
                                               for k, v in self.p.items()},
                "machine": mi, "preliminary": self.preliminary,
                "elapsed_s": elapsed,
                "results": json.loads(json.dumps(self.results, default=str))}
        outs = []
        if self.args.out:
            os.makedirs(self.args.out, exist_ok=True)
            outs.append((os.path.join(self.args.out, "results.json"),
                         os.path.join(self.args.out, "benchmarks.png"),
                         os.path.join(self.args.out, "table.md")))
        for js, png, md in outs:
            with open(js, "w") as f:
                json.dump(data, f, indent=1)
            with open(md, "w") as f:
                f.write(table + "\n")
            self.chart(os.path.abspath(png))
            log(f"results, table and chart in {self.args.out}")
        if self.args.write_docs:
            self.write_docs(table, data, elapsed, status)

    def meaning(self):
        """The "What this means" section, from the figures."""
        R, mi = self.results, self.machine_info
        med = {k: median(v) for k, v in R["pipe"].items()}
        m, a, d = med["ldapmda"], med["ldapadd"], med["dovecot"]
        met = lambda ok: "met" if ok else "**not met**"
        out = []
        text = (f"**Pipe mode.** A delivery took {m:.2f} ms, {m / a:.2f}× as long "
                f"as `ldapadd` adding the same entry in its own process "
                f"({a:.2f} ms). The target of at most 1.0× is {met(m / a <= 1.0)}.")
        if "ldapmda_start" in med:
            store_m = m - med["ldapmda_lookup"]
            text += (
                f" Where the time goes: starting the process costs "
                f"{med['ldapmda_start']:.2f} ms (`ldapadd`: "
                f"{med['ldapadd_start']:.2f} ms). Start, connect, bind and "
                f"lookup without a store together cost "
                f"{med['ldapmda_lookup']:.2f} ms (`ldapsearch`: "
                f"{med['ldapsearch_lookup']:.2f} ms). The remaining "
                f"{store_m:.2f} ms are the add itself: slapd indexes the "
                f"entry and syncs it to disk before it answers. On this "
                f"disk, writing 4 KiB and calling fdatasync takes "
                f"{mi['fdatasync_ms']:.2f} ms, and a back-mdb commit syncs "
                f"at least once. That part belongs to slapd and its disk, "
                f"whichever client sends the add.")
        out.append(text)
        out.append(
            f"**Against dovecot-lda.** dovecot-lda, the delivery agent a "
            f"Postfix site would otherwise run, took {d:.2f} ms per message "
            f"into a Maildir. ldapmda took {m / d:.2f}× that. Both start a "
            f"process, look the user up (dovecot over its auth socket) and "
            f"sync the message to disk before they report success. dovecot "
            f"also updates its index files.")
        if "lmtp" in R:
            lm, la = median(R["lmtp"]["ldapmda"]), median(R["lmtp"]["ldapadd"])
            out.append(
                f"**LMTP.** Over one connection ldapmda stored {lm:,.0f} "
                f"messages per second, {lm / la:.2f}× the {la:,.0f}/s of "
                f"`ldapadd -f` with the same number of entries. The target of "
                f"at least 0.9× is {met(lm / la >= 0.9)}. A session looks a "
                f"recipient up at RCPT and keeps what it found for "
                f"`lmtp_lookup_cache` seconds, so mail to one mailbox costs "
                f"one add per message, as `ldapadd -f` does. Both wait for "
                f"slapd to sync each entry. One connection is "
                f"{lm * m / 1000:.1f}× as fast as one pipe-mode process per "
                f"message ({1000 / m:,.0f}/s), because process start, connect "
                f"and bind are paid only once. For volume, use LMTP.")
        if "lmtp_sessions" in R:
            ls = {c: (median(v["ldapmda"]), median(v["ldapadd"]))
                  for c, v in R["lmtp_sessions"].items()}
            best = max(ls, key=lambda c: ls[c][0])
            ok = all(x / y >= 0.9 for x, y in ls.values())
            out.append(
                "**LMTP sessions at once.** " + ", ".join(
                    f"{c} session{'s' if c > 1 else ''}: {x:,.0f}/s "
                    f"({x / y:.2f}× {c} × `ldapadd -f`)"
                    for c, (x, y) in ls.items())
                + f". The target of at least 0.9× at every level is "
                f"{met(ok)}. The most messages per second came with {best} "
                f"session{'s' if best > 1 else ''}: back-mdb takes one write "
                f"at a time and syncs each, so more connections mostly wait "
                f"for the same writer, whichever client they belong to. "
                f"README says how many sessions Postfix should open.")
        if "concurrency" in R:
            c = {k: median(v) for k, v in R["concurrency"].items()}
            best = max(c, key=c.get)
            out.append(
                f"**Concurrency.** Pipe-mode deliverers running at once raise "
                f"the rate from {c[1]:,.0f}/s (one) to {c[best]:,.0f}/s at best "
                f"({best} at once, {c[best] / c[1]:.2f}×). back-mdb has one "
                f"writer at a time and syncs each add, and the "
                f"{mi['nproc']} cores are shared by slapd and the deliverers, "
                f"so more processes mostly queue. Postfix runs up to 20 "
                f"deliveries to one domain at once by default "
                f"(`default_destination_concurrency_limit`), but the "
                f"directory sets the limit, not the number of ldapmda "
                f"processes.")
        if "sizes" in R:
            parts = []
            ok = True
            for size, v in R["sizes"].items():
                rss = median(v["rss"])
                ok &= rss <= 2 * size + 10 * MiB
                parts.append(f"{rss / MiB:.1f} MiB for {size_label(size)} "
                             f"(limit {(2 * size + 10 * MiB) / MiB:.1f})")
            out.append(
                "**Memory.** Peak RSS was " + ", ".join(parts) + ". The target "
                f"of at most 2 × message + 10 MiB is {met(ok)} for "
                f"{'every size' if ok else 'some sizes'}. "
                + (f"The {median(R['sizes'][4 * KiB]['rss']) / MiB:.1f} MiB "
                   f"of the 4 KiB delivery are the fixed cost of the process "
                   f"and its libraries. " if 4 * KiB in R["sizes"] else "")
                + "On top "
                "of that, ldapmda holds the message once as read from "
                "stdin and once more in libldap's encoded add request, so "
                "the total is about 2 × the message size. "
                + ("The 10 MiB message comes within a few hundred KiB of "
                   "the limit, so there is no room for a third copy. "
                   if 10 * MiB in R["sizes"] and
                   2 * 10 * MiB + 10 * MiB - median(R["sizes"][10 * MiB]["rss"]) < MiB
                   else ""))
        if "replication" in R:
            parts = []
            for size, v in R["replication"].items():
                parts.append(
                    f"{size_label(size)}: {median(v['without']):.2f} ms without, "
                    f"{median(v['with']):.2f} ms with confirmation; without "
                    f"it, node 2 had the entry {median(v['lag']):.2f} ms after "
                    f"ldapmda exited (medians)")
            out.append(
                "**Two providers.** Delivering to node 1 of a multi-provider "
                "pair, alternately without and with `confirm_host` = node 2 "
                "(ldapmda reports the delivery only once node 2 has the "
                "entry): " + "; ".join(parts) + ". The write concern costs "
                "about the replication delay, because syncrepl "
                "refreshAndPersist pushes each change at once, plus a "
                "connection and bind to node 2.")
        else:
            out.append("**Two providers.** Not measured in this run "
                       "(`--skip-replication`).")
        out += self.directory_meaning()
        if "imap" in R:
            im = R["imap"]
            f = {k: (median(im[k]["ldapmda"]), median(im[k]["maildir"]))
                 for k in ("fetch", "select", "login_select", "reselect",
                           "first_select")
                 if k in im}
            ratio = {k: x / y for k, (x, y) in f.items()}
            text = (
                f"**Reading over IMAP.** The same Dovecot configuration "
                f"served the same messages once through the ldapmda plugin "
                f"(from the directory) and once from a maildir. FETCH of "
                f"{im['fetch_n']:,} whole 4 KiB messages took "
                f"{f['fetch'][0]:.1f} ms against {f['fetch'][1]:.1f} ms "
                f"({ratio['fetch']:.2f}×; target ≤ 2×: "
                f"{met(ratio['fetch'] <= 2.0)}). The plugin reads the "
                f"messages Dovecot prefetches (`mail_prefetch_count`) with "
                f"one search of the folder's children by key per batch, "
                f"sent ahead while the messages before them are handed "
                f"out, so slapd and the imap process work at the same time; "
                f"what remains is slapd's work per entry (reading it, the "
                f"ACL check, encoding it, one write to the socket each) and "
                f"the socket between the two processes, where maildir reads "
                f"files from the page cache. SELECT of the indexed "
                f"{im['select_n']:,}-message mailbox took "
                f"{f['select'][0]:.2f} ms in a new session against "
                f"{f['select'][1]:.2f} ms ({ratio['select']:.2f}×)")
            if "reselect" in f:
                text += (f", and {f['reselect'][0]:.2f} ms against "
                         f"{f['reselect'][1]:.2f} ms in a session that had "
                         f"another folder open ({ratio['reselect']:.2f}×; "
                         f"target ≤ 1.5×: {met(ratio['reselect'] <= 1.5)})")
            text += (
                ". Dovecot answers from its index in both cases; the "
                "plugin asks the directory what changed since the index's "
                "token (the folder entry and the contextCSN in one round "
                "trip, then one search on entryCSN), and a new session "
                "first opens its store: the driver's first use in a new "
                "imap process, a connection, a bind, the user's lookup and "
                "one round trip for the root DSE, the folders and the "
                "contextCSN. Maildir reads a few local files instead.")
            if "login_select" in f:
                text += (
                    f" What a client waits for in a new session, the "
                    f"connection, LOGIN (a password check against the same "
                    f"directory for both) and SELECT, took "
                    f"{f['login_select'][0]:.1f} ms against "
                    f"{f['login_select'][1]:.1f} ms "
                    f"({ratio['login_select']:.2f}×).")
            text += (
                f" The "
                f"first SELECT, which builds Dovecot's index and gives "
                f"every message its UID entry in the directory (one add "
                f"each, synced to disk), took {f['first_select'][0]:,.0f} ms "
                f"against {f['first_select'][1]:,.0f} ms; it happens once "
                f"per message, whichever Dovecot server sees it first.")
            out.append(text)
        if self.preliminary:
            out.append(
                "**Caveat.** Other builds, test suites and fuzzers used the "
                "machine during this run, and the run-to-run ranges in the "
                "table show it. The ratios are the meaningful part, because "
                "both sides of each comparison ran interleaved under the "
                "same load. The absolute figures will be better on a quiet "
                "machine.")
        return "\n\n".join(out)

    def write_docs(self, table, data, elapsed, status):
        docs = os.path.join(ROOT, "docs")
        os.makedirs(docs, exist_ok=True)
        png = os.path.join(docs, "benchmarks.png")
        self.chart(png)
        mi = self.machine_info
        machine = "\n".join([
            f"| CPU | {mi['nproc']} × {mi['cpu'].split(' ', 1)[-1]} "
            f"(`nproc`: {mi['nproc']}) |",
            f"| memory | {mi['memory']} |",
            f"| kernel | Linux {mi['kernel']} |",
            f"| system | Debian {mi['debian']} |",
            f"| slapd, ldap-utils | {mi['slapd']}, {mi['ldap-utils']} |",
            f"| dovecot-core | {mi['dovecot-core']} |",
            f"| ldapmda | {mi['ldapmda']} |",
            f"| data directory | {mi['filesystem']}; writing 4 KiB and calling "
            f"fdatasync takes {mi['fdatasync_ms']:.2f} ms (median of 20, "
            f"before the run) |",
            f"| syslog | {mi.get('syslog', '?')} |",
            f"| load average | {mi['load'][0]:.2f} at the start, "
            f"{mi['load'][1]:.2f} at the end |",
            f"| run | `bench/run{' --quick' if self.mode == 'quick' else ''}`, "
            f"{mi['date']}, {elapsed / 60:.1f} minutes |",
        ])
        p = self.p
        counts = (f"{p['runs']} runs of each comparison; pipe mode "
                  f"{p['pipe_n']} messages per side per run; LMTP "
                  f"{p['lmtp_n']} messages per side, level and run (split "
                  f"between 1, 2, 4 or 8 sessions); concurrency "
                  f"{p['conc_n']} messages per level per run; sizes "
                  + ", ".join(f"{n} × {size_label(s)}"
                              for s, n in p['size_runs'].items())
                  + "; two providers "
                  + ", ".join(f"{n} × {size_label(s)}"
                              for s, n in p['repl_n'].items())
                  + f"; indexes {p.get('index_n', '?')} entries per side per "
                  f"run; searches over {p.get('search_n', '?')} messages; "
                  f"dbnosync {p.get('nosync_n', '?')} messages per side per run")
        figures = {
            "STATUS": ("> **PRELIMINARY.** The" + status[len("PRELIMINARY: the"):]
                       + ": other builds, test suites and fuzzers shared its "
                       f"{mi['nproc']} cores and its disk. The ratios were "
                       "measured side by side and are the meaningful part. "
                       "Re-run `bench/run --write-docs` on a quiet machine "
                       "to replace this page.")
                      if self.preliminary else
                      f"> Measured on a {status}.",
            "MACHINE": machine,
            "TABLE": table,
            "COUNTS": counts,
            "MEANING": self.meaning(),
        }
        with open(os.path.join(ROOT, "bench", "BENCHMARKS.md.in")) as f:
            text = f.read()
        for k, v in figures.items():
            text = text.replace("{{" + k + "}}", v)
        left = re.findall(r"\{\{[A-Z_]+\}\}", text)
        if left:
            die(f"bench/BENCHMARKS.md.in: unknown placeholders {left}")
        with open(os.path.join(docs, "BENCHMARKS.md"), "w") as f:
            f.write(text)
        with open(os.path.join(ROOT, "bench", "last-run.json"), "w") as f:
            json.dump(data, f, indent=1)
        log("wrote docs/BENCHMARKS.md, docs/benchmarks.png and bench/last-run.json")
