"""Section 10: reading mail back over IMAP. One Dovecot from the shipped
conf/dovecot-ldapmda.conf serves the directory through the ldapmda
storage plugin; a second one from the same file with Dovecot's own
maildir driver serves the same messages from files. Both run on the same
slapd (logins are LDAP binds for both), started by ldapmda-test-slapd
--dovecot --dovecot-maildir; only the mail_location differs."""

import os
import pwd
import re
import socket
import time

from .common import RECIPIENT, SENDER, die, log, read, spawn_timed
from .messages import lmtp_data, make_message

TAG = b"Z1"


class ImapSession:
    """A minimal IMAP client on a socket: it times the server, not a
    client library's parsing."""

    def __init__(self, port, user, password):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        # A bytearray grows in place: appending to bytes would copy the
        # whole response so far for every chunk (megabytes per FETCH),
        # CPU the client would take from the servers it times.
        self.buf = bytearray()
        greeting = self._line()
        if not greeting.startswith(b"* OK"):
            die(f"IMAP on port {port} greeted {greeting!r}")
        self.command(f"LOGIN {user} {password}".encode(), "login")

    def _line(self):
        while b"\r\n" not in self.buf:
            self._recv()
        end = self.buf.index(b"\r\n")
        line = bytes(self.buf[:end])
        del self.buf[:end + 2]
        return line

    def _recv(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            die("the IMAP server closed the connection")
        self.buf += chunk

    def command(self, text, what):
        """Sends one command; returns the whole response (untagged lines
        and literals) once the tagged OK is in. Anything else dies."""
        self.sock.sendall(TAG + b" " + text + b"\r\n")
        # The tagged line ends the response: wait for it at the end (no
        # line of the messages starts with the tag).
        while True:
            if self.buf.endswith(b"\r\n"):
                end = self.buf.rfind(b"\r\n", 0, len(self.buf) - 2)
                status = bytes(self.buf[end + 2:] if end >= 0 else self.buf)
                if status.startswith(TAG + b" "):
                    break
            self._recv()
        response = bytes(self.buf)
        self.buf.clear()
        if not status.startswith(TAG + b" OK"):
            die(f"IMAP {what}: {status.strip()!r}")
        return response

    def close(self):
        try:
            self.sock.sendall(TAG + b" LOGOUT\r\n")
        except OSError:
            pass
        self.sock.close()


def _literals(response):
    """The {n}-literals of a FETCH response, in order."""
    out, pos = [], 0
    literal = re.compile(rb"\{(\d+)\}\r\n")
    while (m := literal.search(response, pos)):
        n = int(m.group(1))
        out.append(response[m.end():m.end() + n])
        pos = m.end() + n
    return out


def _fill_ldapmda(work, ldapmda, conf, messages, recipient):
    """Delivers `messages` (stored form) to `recipient` over one LMTP
    session of the binary under test."""
    session = [b"LHLO bench.example.org\r\n"]
    for raw in messages:
        session.append(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{recipient}>\r\n"
                       "DATA\r\n".encode())
        session.append(lmtp_data(raw))
    session.append(b"QUIT\r\n")
    path = work.write(f"imap/session-{recipient}.txt", b"".join(session))
    out = work.out(f"imap-fill-{recipient}")
    _, rc, _ = spawn_timed([ldapmda, "-c", conf, "--lmtp"], path, out)
    replies = read(out, 1 << 30).splitlines()
    stored = sum(1 for l in replies if l.startswith("250 2.0.0"))
    if rc != 0 or stored != len(messages):
        die(f"filling the directory over LMTP: exit {rc}, {stored}/"
            f"{len(messages)} stored; {[l for l in replies if l[:1] in '45'][:1]}")


def _fill_maildir(folder_dir, messages, owner):
    """The same messages as files in a maildir folder's cur/, as a
    delivery would have left them (Dovecot indexes them at SELECT)."""
    cur = os.path.join(folder_dir, "cur")
    if not os.path.isdir(cur):
        die(f"no maildir folder at {folder_dir}")
    now = int(time.time())
    for i, raw in enumerate(messages):
        name = os.path.join(cur, f"{now}.M{i}P{os.getpid()}.bench,S={len(raw)}:2,")
        with open(name, "wb") as f:
            f.write(raw)
        os.chown(name, owner.pw_uid, owner.pw_gid)


def bench_imap(cases):
    p, work = cases.p, cases.work
    runs, fetch_n, select_n = p["runs"], p["imap_fetch_n"], p["imap_select_n"]
    log(f"\n== 10. IMAP through Dovecot: the ldapmda driver vs Dovecot's maildir "
        f"(FETCH of {fetch_n} 4 KiB messages, SELECT of {select_n}; {runs} runs, "
        f"alternating)")
    slapd = cases.servers.start_slapd("imap", "--config", "shipped",
                                      "--dovecot", "--dovecot-maildir")
    info = slapd.info
    # Extensions on, as for the driver (tests/support/dovecot_server.h):
    # alice+big@ delivers into the folder "big".
    conf = cases.servers.ldapmda_conf("ldapmda-imap.conf", slapd)
    with open(conf, "a") as f:
        f.write("recipient_delimiter = +\n")
    password = info["alice_password"]
    ports = {"ldapmda": info["dovecot_imap_port"],
             "maildir": info["maildir_imap_port"]}

    inbox = [make_message(f"imap-fetch-{i}", 4096) for i in range(fetch_n)]
    big = [make_message(f"imap-select-{i}", 4096) for i in range(select_n)]
    t0 = time.monotonic()
    _fill_ldapmda(work, cases.ldapmda, conf, inbox, RECIPIENT)
    user, domain = RECIPIENT.split("@")
    _fill_ldapmda(work, cases.ldapmda, conf, big, f"{user}+big@{domain}")
    # The maildir side: Dovecot makes the folders, the files go in as
    # they are (Dovecot keeps LF line ends in files, as the directory).
    setup = ImapSession(ports["maildir"], "alice", password)
    setup.command(b"SELECT INBOX", "select")
    setup.command(b"CREATE big", "create")
    setup.close()
    root = os.path.join(info["maildir_dir"], "maildir")
    users = os.listdir(root)
    if len(users) != 1:
        die(f"expected one user's maildir in {root}, found {users}")
    home = os.path.join(root, users[0])
    nobody = pwd.getpwnam("nobody")
    _fill_maildir(home, inbox, nobody)
    _fill_maildir(os.path.join(home, ".big"), big, nobody)
    log(f"  filled both in {time.monotonic() - t0:.0f} s")

    # First SELECTs: each Dovecot builds its index (and the driver gives
    # the messages their UIDs in the directory). Timed once, for the
    # record; the comparisons below are of indexed mailboxes.
    first = {}
    sessions = {}
    for s in ("ldapmda", "maildir"):
        sess = ImapSession(ports[s], "alice", password)
        t = time.perf_counter()
        r = sess.command(b"SELECT big", "select big")
        first[s] = (time.perf_counter() - t) * 1000
        if f"* {select_n} EXISTS".encode() not in r:
            die(f"{s}: SELECT big did not show {select_n} messages: {r[:300]!r}")
        r = sess.command(b"SELECT INBOX", "select INBOX")
        if f"* {fetch_n} EXISTS".encode() not in r:
            die(f"{s}: SELECT INBOX did not show {fetch_n} messages: {r[:300]!r}")
        sessions[s] = sess
    # Every message comes back as stored, with CRLF line ends (RFC 3501).
    want = sorted(m.replace(b"\n", b"\r\n") for m in inbox)
    for s, sess in sessions.items():
        if sorted(_literals(sess.command(b"FETCH 1:* (BODY.PEEK[])",
                                         "fetch"))) != want:
            die(f"{s}: FETCH 1:* did not return the messages byte-exact")

    fetch = {"ldapmda": [], "maildir": []}
    select = {"ldapmda": [], "maildir": []}
    reselect = {"ldapmda": [], "maildir": []}
    login_select = {"ldapmda": [], "maildir": []}
    for r in range(-1, runs):  # the first round warms caches, untimed
        order = ["ldapmda", "maildir"] if r % 2 else ["maildir", "ldapmda"]
        for s in order:
            t = time.perf_counter()
            resp = sessions[s].command(b"FETCH 1:* (BODY.PEEK[])", "fetch")
            ms = (time.perf_counter() - t) * 1000
            got = len(re.findall(rb"\* \d+ FETCH \(", resp))
            if got != fetch_n:
                die(f"{s}: FETCH 1:* returned {got} of {fetch_n} messages")
            # The same session opening the other folder: Dovecot's index
            # answers, the driver asks the directory what changed.
            t = time.perf_counter()
            sessions[s].command(b"SELECT big", "select")
            ms_reselect = (time.perf_counter() - t) * 1000
            sessions[s].command(b"SELECT INBOX", "select")
            # A new session each time: what a client opening the folder
            # waits for, the SELECT alone (the first command that needs
            # the store: the plugin opens it there) and with the
            # connection and LOGIN before it (both check the password
            # against the same directory).
            t_login = time.perf_counter()
            sess = ImapSession(ports[s], "alice", password)
            t = time.perf_counter()
            sess.command(b"SELECT big", "select")
            ms_select = (time.perf_counter() - t) * 1000
            ms_login_select = (time.perf_counter() - t_login) * 1000
            sess.close()
            if r >= 0:
                fetch[s].append(ms)
                select[s].append(ms_select)
                login_select[s].append(ms_login_select)
                reselect[s].append(ms_reselect)
        if r >= 0:
            log(f"  run {r + 1}: FETCH ldapmda {fetch['ldapmda'][-1]:.1f} ms, "
                f"maildir {fetch['maildir'][-1]:.1f} ms; SELECT (new session) "
                f"ldapmda {select['ldapmda'][-1]:.2f} ms, maildir "
                f"{select['maildir'][-1]:.2f} ms (with LOGIN ldapmda "
                f"{login_select['ldapmda'][-1]:.2f} ms, maildir "
                f"{login_select['maildir'][-1]:.2f} ms); SELECT (same session) "
                f"ldapmda {reselect['ldapmda'][-1]:.2f} ms, maildir "
                f"{reselect['maildir'][-1]:.2f} ms")
    for sess in sessions.values():
        sess.close()
    slapd.stop()
    cases.results["imap"] = {"fetch_n": fetch_n, "select_n": select_n,
                             "fetch": fetch, "select": select,
                             "login_select": login_select,
                             "reselect": reselect,
                             "first_select": {k: [v] for k, v in first.items()}}
