"""The servers of a run, all in its work directory: slapd from the shipped
conf/slapd.conf (fsync on), a two-provider pair from
conf/slapd-multiprovider.conf, a throwaway dovecot for dovecot-lda, and a
minimal LDAP client that polls the second provider."""

import base64
import grp
import os
import pwd
import re
import socket
import subprocess
import time

from .common import (ADMIN_DN, ALICE_DN, BASE_DN, DAEMONS, DOVECOT, ENV,
                     MAILBOX_DN, PEOPLE_DN, RECIPIENT, REPLICATOR_DN, ROOT,
                     SERVICE_DN, SLAPD, die, free_port, log, read, run,
                     stop_daemon)
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


class Servers:
    """slapd, dovecot and the two-provider pair of one run, in `work`."""

    def __init__(self, work):
        self.work = work
        self.tmp = work.path
        self.uid = os.getuid()

    def shipped(self, name):
        with open(os.path.join(ROOT, "conf", name)) as f:
            return f.read()

    @staticmethod
    def subst(text, old, new, what):
        if old not in text:
            die(f"{what}: '{old}' not found: adapt bench/run to the shipped file")
        return text.replace(old, new)

    @staticmethod
    def subst_line(text, pattern, line, what):
        new, n = re.subn(pattern, line.replace("\\", "\\\\"), text, count=1,
                         flags=re.M)
        if n != 1:
            die(f"{what}: no line matching {pattern}: adapt bench/run")
        return new

    def secrets(self):
        def pw():
            return base64.b32encode(os.urandom(15)).decode().lower()
        self.admin_pw, self.service_pw, self.replicator_pw = pw(), pw(), pw()
        hash_ = lambda s: run(["/usr/sbin/slappasswd", "-h", "{SSHA}", "-s", s],
                              "slappasswd").strip()
        self.admin_hash = hash_(self.admin_pw)
        self.service_hash = hash_(self.service_pw)
        self.replicator_hash = hash_(self.replicator_pw)
        # ldapadd -y reads the whole file (no line end); ldapmda's
        # bind_pw_file its first line.
        self.service_pw_file = self.work.write("service.pw", self.service_pw)
        self.bind_pw_file = self.work.write("bind.pw", self.service_pw + "\n")

    def slapd_conf(self, template, name, data_dir, extra=lambda t: t):
        what = f"conf/{template}"
        t = self.shipped(template)
        t = self.subst(t, "/usr/share/ldapmda/schema/ldapmda.schema",
                       os.path.join(ROOT, "conf", "ldapmda.schema"), what)
        t = self.subst(t, "/var/run/slapd/slapd.",
                       os.path.join(self.tmp, name + "."), what)
        t = self.subst(t, "/var/lib/ldap", data_dir, what)
        t = self.subst_line(t, r"^#?rootdn\b.*$", f'rootdn\t\t"{ADMIN_DN}"', what)
        t = self.subst_line(t, r"^#rootpw\b.*$", f"rootpw\t\t{self.admin_hash}", what)
        if re.search(r"^\s*dbnosync", t, re.M):
            die(f"{what} sets dbnosync: the benchmark wants fsync on")
        t = extra(t)
        os.makedirs(data_dir, exist_ok=True)
        path = self.work.write(name + ".conf", t)
        run([SLAPD, "-Tt", "-u", "-f", path], f"slaptest of {name}.conf")
        return path

    def start_slapd(self, conf, uri, name):
        """Starts slapd in the foreground (-d 0: loglevel stats goes to
        syslog, as in production). Returns the Popen or None if it exited
        (e.g. the port was taken)."""
        logf = open(os.path.join(self.tmp, name + ".log"), "wb")
        p = subprocess.Popen([SLAPD, "-d", "0", "-h", uri, "-f", conf],
                             stdout=logf, stderr=subprocess.STDOUT, env=ENV)
        DAEMONS.append(p)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if p.poll() is not None:
                DAEMONS.remove(p)
                return None
            r = subprocess.run(["ldapsearch", "-x", "-H", uri, "-o", "nettimeout=2",
                                "-b", "", "-s", "base", "-LLL", "namingContexts"],
                               capture_output=True, env=ENV)
            if r.returncode == 0:
                return p
            time.sleep(0.1)
        die(f"slapd {name} did not answer on {uri} within 20 s")

    def ldapadd_admin(self, uri, ldif, what):
        run(["ldapadd", "-x", "-H", uri, "-D", ADMIN_DN, "-w", self.admin_pw],
            what, input_bytes=ldif)

    def base_ldif(self, replicator=False):
        e = [
            (BASE_DN, [("objectClass", "dcObject"), ("objectClass", "organization"),
                       ("dc", "example"), ("o", "Example Inc.")]),
            (PEOPLE_DN, [("objectClass", "organizationalUnit"), ("ou", "people")]),
            (f"ou=services,{BASE_DN}", [("objectClass", "organizationalUnit"),
                                        ("ou", "services")]),
            (SERVICE_DN, [("objectClass", "organizationalRole"),
                          ("objectClass", "simpleSecurityObject"),
                          ("cn", "ldapmda"), ("userPassword", self.service_hash)]),
        ]
        if replicator:
            e.append((REPLICATOR_DN, [("objectClass", "organizationalRole"),
                                      ("objectClass", "simpleSecurityObject"),
                                      ("cn", "replicator"),
                                      ("userPassword", self.replicator_hash)]))
        e += [
            (ALICE_DN, [("objectClass", "inetOrgPerson"), ("uid", "alice"),
                        ("cn", "Alice Smith"), ("sn", "Smith"), ("mail", RECIPIENT)]),
            # Pre-created so that both sides do the same work per message.
            (MAILBOX_DN, [("objectClass", "mdaMailbox"), ("cn", "mailbox")]),
        ]
        return b"".join(ldif_entry(dn, a) for dn, a in e)

    def ldapmda_conf(self, name, uri):
        what = "conf/ldapmda.conf"
        t = self.shipped("ldapmda.conf")
        t = self.subst_line(t, r"^server_host\s*=.*$", f"server_host = {uri}", what)
        t = self.subst_line(t, r"^bind_pw_file\s*=.*$",
                            f"bind_pw_file = {self.bind_pw_file}", what)
        return self.work.write(name, t)

    def start_single(self):
        data = os.path.join(self.tmp, "slapd-data")
        for _ in range(3):
            port = free_port()
            self.uri = f"ldap://127.0.0.1:{port}"
            conf = self.slapd_conf("slapd.conf", "slapd", data)
            self.slapd = self.start_slapd(conf, self.uri, "slapd")
            if self.slapd:
                break
        else:
            die("slapd exited at start three times: " + read(
                os.path.join(self.tmp, "slapd.log")))
        self.ldapadd_admin(self.uri, self.base_ldif(), "loading the base entries")
        self.conf = self.ldapmda_conf("ldapmda.conf", self.uri)
        log(f"slapd listening on {self.uri} (pid {self.slapd.pid}), data in {data}")

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
        and node 2 in sync with it. Returns their URIs, the Popen objects
        and a poller bound to node 2 as the rootdn."""
        for attempt in range(3):
            ports = [free_port(), free_port()]
            if ports[0] == ports[1]:
                continue
            uris = [f"ldap://127.0.0.1:{p}" for p in ports]
            nodes = []
            for k in (0, 1):
                me, peer = uris[k], uris[1 - k]

                def extra(t, me=me, peer=peer, k=k):
                    what = "conf/slapd-multiprovider.conf"
                    t = self.subst(t, "provider=ldap://ldap2.example.com",
                                   f"provider={peer}", what)
                    t = self.subst(t, "ldap://ldap1.example.com", uris[0], what)
                    t = self.subst(t, "ldap://ldap2.example.com", uris[1], what)
                    return self.subst(t, "change-this-replicator-password",
                                      self.replicator_pw, what)
                conf = self.slapd_conf("slapd-multiprovider.conf", f"node{k + 1}",
                                       os.path.join(self.tmp, f"node{k + 1}-data"),
                                       extra)
                p = self.start_slapd(conf, me, f"node{k + 1}")
                if not p:
                    break
                nodes.append(p)
            if len(nodes) == 2:
                break
            for p in nodes:
                stop_daemon(p)
        else:
            die("the two-provider pair did not start: "
                + read(os.path.join(self.tmp, "node1.log")))
        self.ldapadd_admin(uris[0], self.base_ldif(replicator=True),
                           "loading node 1")
        poller = LdapPoller(ports[1], ADMIN_DN, self.admin_pw)
        deadline = time.monotonic() + 60
        while not poller.exists(MAILBOX_DN):
            if time.monotonic() > deadline:
                die("node 2 did not replicate the base entries within 60 s")
            time.sleep(0.1)
        log(f"  node 1 {uris[0]}, node 2 {uris[1]}: in sync")
        return uris, nodes, poller
