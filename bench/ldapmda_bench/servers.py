"""The servers of a run, all in its work directory: slapd from the shipped
conf/slapd.conf (fsync on) and a two-provider pair from
conf/slapd-multiprovider.conf, both started by ldapmda-test-slapd as the
tests start theirs; a throwaway dovecot for dovecot-lda; and a minimal
LDAP client that polls the second provider."""

import grp
import json
import os
import pwd
import re
import socket
import subprocess
import time

from .common import (ADMIN_DN, DAEMONS, DOVECOT, ENV, INBOX_DN, MAILBOX_DN,
                     ROOT, die, log, read, stop_daemon)
from .messages import ldif_entry

###########################################################################
# A minimal LDAP client (bind + base search over one connection), to poll
# the second provider for the replication lag, without the cost of a process
# per poll.
###########################################################################

def _len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag, content):
    return bytes([tag]) + _len(len(content)) + content


def _int(tag, v):
    return _tlv(tag, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big"))


def _parse(data, pos=0):
    tag = data[pos]
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    return tag, data[pos:pos + n], pos + n


class LdapPoller:
    def __init__(self, port, dn, password):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.msgid = 0
        self._send(_tlv(0x60, _int(0x02, 3) + _tlv(0x04, dn.encode())
                        + _tlv(0x80, password.encode())))
        tag, content = self._recv()
        if tag != 0x61 or _parse(content)[1] != b"\x00":
            die(f"poller: bind as {dn} failed")

    def _send(self, op):
        self.msgid += 1
        self.sock.sendall(_tlv(0x30, _int(0x02, self.msgid) + op))

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                die("poller: connection closed")
            buf += chunk
        return buf

    def _recv(self):
        head = self._exact(2)
        n = head[1]
        if n & 0x80:
            ext = self._exact(n & 0x7F)
            n = int.from_bytes(ext, "big")
            head += ext
        msg = head + self._exact(n)
        _, seq, _ = _parse(msg)
        _, _, pos = _parse(seq)            # messageID
        tag, content, _ = _parse(seq, pos)  # protocolOp
        return tag, content

    def wait_for(self, dn, seconds, what, interval=0.1):
        """Polls until `dn` exists; dies with "`what` within N s" after
        `seconds`."""
        deadline = time.monotonic() + seconds
        while not self.exists(dn):
            if time.monotonic() > deadline:
                die(f"{what} within {seconds} s")
            time.sleep(interval)

    def exists(self, dn):
        self._send(_tlv(0x63, _tlv(0x04, dn.encode()) + _int(0x0A, 0)
                        + _int(0x0A, 0) + _int(0x02, 0) + _int(0x02, 0)
                        + _tlv(0x01, b"\x00") + _tlv(0x87, b"objectClass")
                        + _tlv(0x30, _tlv(0x04, b"1.1"))))
        found = False
        while True:
            tag, content = self._recv()
            if tag == 0x64:
                found = True
            elif tag == 0x65:
                rc = int.from_bytes(_parse(content)[1], "big")
                if rc not in (0, 32):
                    die(f"poller: search {dn} answered {rc}")
                return found

    def close(self):
        self.sock.close()


class Slapd:
    """One ldapmda-test-slapd (tests/support/slapd_main.cpp) and what it
    printed (`info`: uri, pid, dir, admin_password, service_pw_file...).
    It started slapd, or the pair, with the sample data of the tests and
    random passwords; stop() (or the end of bench/run) stops it, and it
    removes its directory."""

    def __init__(self, launcher, work, name, args, keep, fsync=True):
        log_path = os.path.join(work.path, name + "-launcher.log")
        # slapd logs every operation (loglevel stats, as shipped). On a
        # server that goes to a syslog daemon; on a machine without one
        # (a container: no /dev/log) every syslog() call fails slowly,
        # which added milliseconds to each operation. With --debug-level
        # the launcher sets loglevel 0 and slapd writes the same lines
        # into its log file only, which costs what syslog would.
        argv = [launcher, "--json", "--private", *(["--fsync"] if fsync else []),
                "--debug-level", "stats", *args]
        if keep:
            argv.append("--keep")
        with open(log_path, "wb") as logf:
            self.process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=logf,
                env=dict(ENV, TMPDIR=work.path))
        DAEMONS.append(self.process)
        # It closes its stdout once slapd answers, or exits.
        out = self.process.stdout.read()
        self.process.stdout.close()
        if not out:
            self.stop()
            die(f"slapd {name} did not start: " + read(log_path))
        self.info = json.loads(out)

    def stop(self):
        stop_daemon(self.process)


class Servers:
    """slapd, dovecot and the two-provider pair of one run, in `work`;
    `launcher` is ldapmda-test-slapd, `keep` leaves slapd's directories."""

    def __init__(self, work, launcher, keep=False):
        self.work = work
        self.tmp = work.path
        self.launcher = launcher
        self.keep = keep
        self.uid = os.getuid()

    def shipped(self, name):
        with open(os.path.join(ROOT, "conf", name)) as f:
            return f.read()

    @staticmethod
    def subst_line(text, pattern, line, what):
        new, n = re.subn(pattern, line.replace("\\", "\\\\"), text, count=1,
                         flags=re.M)
        if n != 1:
            die(f"{what}: no line matching {pattern}: adapt bench/run")
        return new

    def start_slapd(self, name, *args, fsync=True):
        """The sample data, and alice's mailbox, pre-created so that
        ldapmda and ldapadd do the same work per message. `fsync`: fail
        unless the shipped files keep back-mdb's sync on (--fsync)."""
        mailbox = self.work.write("mailbox.ldif", ldif_entry(
            MAILBOX_DN, [("objectClass", "mdaMailbox"), ("cn", "mailbox")]) +
            ldif_entry(INBOX_DN, [("objectClass", "mdaMailFolder"),
                                  ("mdaFolder", "INBOX"),
                                  ("mdaFolderName", "INBOX"),
                                  ("mdaUidValidity", "1"),
                                  ("mdaUidNext", "1"),
                                  ("mdaRemovals", "0")]))
        return Slapd(self.launcher, self.work, name,
                     [*args, "--ldif", mailbox], self.keep, fsync)

    def ldapmda_conf(self, name, slapd):
        """The shipped ldapmda.conf, bound to `slapd` as the service DN."""
        what = "conf/ldapmda.conf"
        t = self.shipped("ldapmda.conf")
        t = self.subst_line(t, r"^server_host\s*=.*$",
                            f"server_host = {slapd.info['uri']}", what)
        t = self.subst_line(t, r"^bind_pw_file\s*=.*$",
                            f"bind_pw_file = {slapd.info['service_pw_file']}",
                            what)
        return self.work.write(name, t)

    def start_single(self):
        """conf/slapd.conf as shipped (fsync on): only the paths, the port
        and an administrator differ."""
        self.slapd = self.start_slapd("slapd", "--config", "shipped")
        info = self.slapd.info
        self.uri = info["uri"]
        self.admin_pw_file = info["admin_pw_file"]
        # ldapadd -y reads the whole file; it has no line end.
        self.service_pw_file = info["service_pw_file"]
        self.conf = self.ldapmda_conf("ldapmda.conf", self.slapd)
        log(f"slapd listening on {self.uri} (pid {info['pid']}), data in "
            f"{info['dir']}/data")

    def start_dovecot(self):
        d = os.path.join(self.tmp, "dovecot")
        os.makedirs(d)
        if self.uid == 0:
            # dovecot-lda -d needs a userdb answer that is not root.
            mail_user = pwd.getpwnam("nobody")
            os.chmod(self.tmp, 0o711)
            os.chmod(d, 0o711)
            users = ""
        else:
            mail_user = pwd.getpwuid(self.uid)
            group = grp.getgrgid(mail_user.pw_gid).gr_name
            users = (f"default_internal_user = {mail_user.pw_name}\n"
                     f"default_internal_group = {group}\n"
                     f"default_login_user = {mail_user.pw_name}\n")
        for sub in ("home", "Maildir"):
            os.makedirs(os.path.join(d, sub))
            os.chown(os.path.join(d, sub), mail_user.pw_uid, mail_user.pw_gid)
        self.maildir = os.path.join(d, "Maildir")
        # Everything else is dovecot's default (mail_fsync = optimized:
        # each delivered file is fsynced before it is renamed into new/).
        conf = f"""# dovecot.conf for bench/run: only the master and its auth
# process, so that dovecot-lda -d alice gets a userdb answer, as with
# Postfix + dovecot-lda for virtual users.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
protocols =
{users}mail_location = maildir:{self.maildir}
first_valid_uid = {min(mail_user.pw_uid, 500)}
service auth {{
  unix_listener auth-userdb {{
    mode = 0600
  }}
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={d}/home
}}
passdb {{
  driver = static
  args = nopassword=y
}}
"""
        self.dovecot_conf = self.work.write("dovecot/dovecot.conf", conf, 0o644)
        logf = open(os.path.join(d, "master.out"), "wb")
        p = subprocess.Popen([DOVECOT, "-F", "-c", self.dovecot_conf],
                             stdout=logf, stderr=subprocess.STDOUT, env=ENV)
        DAEMONS.append(p)
        sock = os.path.join(d, "run", "auth-userdb")
        deadline = time.monotonic() + 20
        while True:
            if p.poll() is not None or time.monotonic() > deadline:
                die("dovecot did not start: " + read(os.path.join(d, "master.out"))
                    + read(os.path.join(d, "dovecot.log")))
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(sock)
                break
            except OSError:
                time.sleep(0.05)
        self.dovecot = p
        log(f"dovecot (auth for dovecot-lda) running, pid {p.pid}, Maildir {self.maildir}")

    def start_pair(self):
        """Nodes 1 and 2 of conf/slapd-multiprovider.conf, node 1 loaded
        and node 2 in sync with it. Returns their URIs, the Slapd and a
        poller bound to node 2 as the rootdn."""
        pair = self.start_slapd("pair", "--config", "pair")
        info = pair.info
        uris = [info["uri"], info["node2_uri"]]
        poller = LdapPoller(info["node2_port"], ADMIN_DN, info["admin_password"])
        poller.wait_for(INBOX_DN, 60, "node 2 did not replicate the base entries")
        log(f"  node 1 {uris[0]}, node 2 {uris[1]}: in sync")
        return uris, pair, poller
