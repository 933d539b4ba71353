#!/usr/bin/env python3
"""A small scripted IMAP or POP3 client for the tests (Python's imaplib
and poplib, independent of Dovecot and of ldapmda). It logs in, runs the
commands given on the command line in one session, and prints one JSON
object: {"login": RESULT, "results": [RESULT, ...]}.

usage: imap_client.py [--pop3] [--ready-file PATH] [--timeout SECONDS]
                      PORT USER PASSWORD [COMMAND ARG... [";" COMMAND ARG...]...]

It connects to 127.0.0.1:PORT without TLS; --timeout (default 60) bounds
every wait for the server.

Commands are separated by a ";" argument. Every RESULT has "cmd", "args",
"status" (OK, NO, BAD; BYE when the server hung up, ERROR for anything
else, e.g. a timeout; POP3: OK or ERR), "text" (the server's text, e.g.
"[UNAVAILABLE] ...") and "code" (the response code in brackets at its
start, e.g. "UNAVAILABLE" or "SYS/TEMP", else null). IMAP results also have
"untagged_no" (texts of untagged NO responses, e.g. a failed sync) and,
when there were any, "exists" (the last untagged EXISTS) and "expunged"
(the sequence numbers of untagged EXPUNGEs). A command that fails does not
stop the script; a BYE or a broken connection does.

IMAP commands (message sets are UID sets; mailbox names are sent quoted):
  capability | namespace | noop | check | logout
  list [PATTERN]             folders: [{"name", "flags"}]
  lsub [PATTERN]             the same for subscribed folders
  select NAME | examine NAME exists, uidvalidity, uidnext
  status NAME                messages, uidnext, uidvalidity, unseen
  create NAME | delete NAME | subscribe NAME
  rename OLD NEW
  fetch [SET]                messages: [{"uid", "flags", "size" (RFC822.SIZE),
                             "internaldate", "guid" (Dovecot's X-GUID),
                             "sha256" and "length" of BODY[]}]
  fetch-meta [SET]           the same without reading BODY[]
  fetch-body SET             messages: [{"uid", "base64" of BODY[]}]
  fetch-header UID FIELD...  "header": BODY[HEADER.FIELDS (...)] as text
  store SET OP FLAG...       OP: FLAGS, +FLAGS, -FLAGS (.SILENT allowed)
  search CRITERION...        uids
  append NAME FILE [FLAG...] the file's bytes exactly; appenduid [v, uid]
  copy SET NAME | move SET NAME      copyuid [v, "src", "dst"] when sent
  expunge
  idle COUNT SECONDS         IDLE until an EXISTS of at least COUNT or the
                             time is up; "exists", "seconds". The
                             --ready-file is created once the server said
                             it is idling.
  sleep SECONDS
  signal PATH                creates the file PATH
  wait-file PATH SECONDS     waits until the file PATH exists (ERROR when
                             the time is up): with signal, a test can act
                             between two commands of one session
POP3 commands (--pop3):
  stat                       count, size
  list                       sizes: [{"msg", "size"}]
  uidl                       uidls: [{"msg", "uidl"}]
  retr-digests               messages: [{"msg", "sha256", "length"}] of each
                             message as sent: its lines with CRLF each (so
                             a last line without a line end gets one),
                             dot-stuffing undone
  dele MSG...
  rset | noop | quit
"""
import base64
import hashlib
import imaplib
import json
import os
import poplib
import re
import socket
import sys
import time

CODE = re.compile(r"^\[([^\]\s]+)")
FETCH_UID = re.compile(rb"\bUID (\d+)")
FETCH_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
FETCH_DATE = re.compile(rb'\bINTERNALDATE "([^"]*)"')
FETCH_GUID = re.compile(rb"\bX-GUID ([^\s)]+)")
LIST_LINE = re.compile(rb'^\(([^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (.*)$')


def text_of(data):
    """The server's text from imaplib's data list or a poplib answer."""
    if isinstance(data, (bytes, bytearray)):
        return data.decode("utf-8", "replace")
    parts = []
    for d in data or []:
        if isinstance(d, tuple):
            d = d[0]
        if isinstance(d, (bytes, bytearray)):
            parts.append(d.decode("utf-8", "replace"))
    return " ".join(parts)


def result(cmd, args, status, text):
    m = CODE.match(text)
    return {"cmd": cmd, "args": args, "status": status, "text": text,
            "code": m.group(1) if m else None}


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(raw):
    if raw.startswith(b'"') and raw.endswith(b'"'):
        raw = re.sub(rb"\\(.)", rb"\1", raw[1:-1])
    return raw.decode("utf-8", "replace")


def flag_list(flags):
    return "(" + " ".join(flags) + ")"


class Connection(imaplib.IMAP4):
    """imaplib's client, remembering the tagged reply of each command
    (imaplib hands back the untagged data instead, e.g. for UID FETCH)."""
    tagged = None

    def _command_complete(self, name, tag):
        self.tagged = None
        typ, data = super()._command_complete(name, tag)
        self.tagged = (typ, data)
        return typ, data


class Imap:
    def __init__(self, port, timeout, ready_file):
        self.m = Connection("127.0.0.1", port, timeout=timeout)
        self.ready_file = ready_file

    def login(self, user, password):
        try:
            typ, data = self.m.login(user, password)
        except imaplib.IMAP4.error as e:  # NO or BAD
            return result("login", [user], "NO", str(e))
        return result("login", [user], typ, text_of(data))

    def run(self, cmd, args):
        self.m.untagged_responses = {}
        self.m.tagged = None
        handler = getattr(self, "cmd_" + cmd.replace("-", "_"), None)
        if handler is None:
            return result(cmd, args, "ERROR", "unknown command"), True
        try:
            out = handler(*args)
        except imaplib.IMAP4.abort as e:
            return result(cmd, args, "BYE", str(e)), False
        except imaplib.IMAP4.error as e:
            return result(cmd, args, "BAD", str(e)), True
        except (OSError, EOFError) as e:
            return result(cmd, args, "ERROR", repr(e)), False
        typ, data = out[0], out[1]
        if self.m.tagged is not None:
            typ, data = self.m.tagged
        r = result(cmd, args, typ, text_of(data))
        if len(out) > 2:
            r.update(out[2])
        untagged = self.m.untagged_responses
        r["untagged_no"] = [text_of([d]) for d in untagged.get("NO", [])]
        if untagged.get("EXISTS"):
            r.setdefault("exists", int(untagged["EXISTS"][-1]))
        if untagged.get("EXPUNGE"):
            r["expunged"] = [int(n) for n in untagged["EXPUNGE"]]
        return r, cmd != "logout"

    def simple(self, name, *args):
        return self.m._simple_command(name, *args)

    def cmd_capability(self):
        typ, data = self.m.capability()
        return typ, ["capability"], {"capabilities": text_of(data).split()}

    def cmd_namespace(self):
        typ, data = self.m.namespace()
        return typ, data, {"namespace": text_of(data)}

    def cmd_noop(self):
        return self.m.noop()

    def cmd_check(self):
        return self.m.check()

    def cmd_logout(self):
        return self.m.logout()

    def listing(self, command, pattern):
        typ, data = self.simple(command, '""', quote(pattern))
        folders = []
        for item in self.m.untagged_responses.get(command, []):
            if isinstance(item, tuple):  # name sent as a literal
                m = LIST_LINE.match(item[0].rsplit(b" ", 1)[0] + b" x")
                name = item[1].decode("utf-8", "replace")
            else:
                m = LIST_LINE.match(item)
                name = unquote(m.group(2)) if m else None
            if m:
                folders.append({"name": name,
                                "flags": m.group(1).decode().split()})
        return typ, data, {"folders": folders}

    def cmd_list(self, pattern="*"):
        return self.listing("LIST", pattern)

    def cmd_lsub(self, pattern="*"):
        return self.listing("LSUB", pattern)

    def opened(self, command, name):
        typ, data = self.simple(command, quote(name))
        u = self.m.untagged_responses
        out = {}
        for key in ("EXISTS", "UIDVALIDITY", "UIDNEXT"):
            if u.get(key):
                out[key.lower()] = int(u[key][-1])
        if typ == "OK":
            self.m.state = "SELECTED"
        return typ, data, out

    def cmd_select(self, name):
        return self.opened("SELECT", name)

    def cmd_examine(self, name):
        return self.opened("EXAMINE", name)

    def cmd_status(self, name):
        typ, data = self.simple(
            "STATUS", quote(name), "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
        out = {}
        for item in self.m.untagged_responses.get("STATUS", []):
            for key, value in re.findall(rb"([A-Z]+) (\d+)", item):
                out[key.decode().lower()] = int(value)
        return typ, data, out

    def cmd_create(self, name):
        return self.simple("CREATE", quote(name))

    def cmd_delete(self, name):
        return self.simple("DELETE", quote(name))

    def cmd_subscribe(self, name):
        return self.simple("SUBSCRIBE", quote(name))

    def cmd_rename(self, old, new):
        return self.simple("RENAME", quote(old), quote(new))

    def fetch_meta(self, uids):
        typ, data = self.m.uid(
            "FETCH", uids, "(UID FLAGS RFC822.SIZE INTERNALDATE X-GUID)")
        messages = []
        for item in data if typ == "OK" else []:
            if not isinstance(item, bytes) or not FETCH_UID.search(item):
                continue
            messages.append({
                "uid": int(FETCH_UID.search(item).group(1)),
                "flags": FETCH_FLAGS.search(item).group(1).decode().split(),
                "size": int(FETCH_SIZE.search(item).group(1)),
                "internaldate": FETCH_DATE.search(item).group(1).decode(),
                "guid": FETCH_GUID.search(item).group(1).decode()})
        return typ, data, messages

    def fetch_bodies(self, uids):
        typ, data = self.m.uid("FETCH", uids, "(BODY.PEEK[])")
        bodies = {}
        for item in data if typ == "OK" else []:
            if isinstance(item, tuple):
                bodies[int(FETCH_UID.search(item[0]).group(1))] = item[1]
        return typ, data, bodies

    def cmd_fetch(self, uids="1:*"):
        typ, data, messages = self.fetch_meta(uids)
        if typ != "OK":
            return typ, data, {"messages": []}
        typ, data, bodies = self.fetch_bodies(uids)
        for m in messages:
            body = bodies.get(m["uid"])
            m["sha256"] = hashlib.sha256(body).hexdigest() if body else None
            m["length"] = len(body) if body is not None else None
        return typ, data, {"messages": messages}

    def cmd_fetch_meta(self, uids="1:*"):
        typ, data, messages = self.fetch_meta(uids)
        return typ, data, {"messages": messages}

    def cmd_fetch_body(self, uids):
        typ, data, bodies = self.fetch_bodies(uids)
        return typ, data, {"messages": [
            {"uid": uid, "base64": base64.b64encode(body).decode()}
            for uid, body in sorted(bodies.items())]}

    def cmd_fetch_header(self, uid, *fields):
        section = "(BODY.PEEK[HEADER.FIELDS (%s)])" % " ".join(fields)
        typ, data = self.m.uid("FETCH", uid, section)
        header = b"".join(d[1] for d in data or [] if isinstance(d, tuple))
        return typ, data, {"header": header.decode("utf-8", "replace")}

    def cmd_store(self, uids, op, *flags):
        typ, data = self.m.uid("STORE", uids, op, flag_list(flags))
        return typ, data

    def cmd_search(self, *criteria):
        typ, data = self.m.uid("SEARCH", *criteria)
        uids = [int(u) for u in text_of(data).split()] if typ == "OK" else []
        return typ, data, {"uids": uids}

    def cmd_append(self, name, path, *flags):
        with open(path, "rb") as f:
            self.m.literal = f.read()  # sent as it is: no line-end changes
        typ, data = self.simple("APPEND", quote(name),
                                flag_list(flags) if flags else None)
        m = re.search(r"\[APPENDUID (\d+) (\d+)\]", text_of(data))
        return typ, data, {"appenduid": [int(m.group(1)), int(m.group(2))]
                           if m else None}

    def copied(self, command, uids, name):
        typ, data = self.m.uid(command, uids, quote(name))
        # imaplib files the tagged and untagged [COPYUID ...] codes alike
        codes = self.m.untagged_responses.get("COPYUID", [])
        copyuid = text_of(codes[-1:]).split() if codes else None
        if copyuid:
            copyuid[0] = int(copyuid[0])
        return typ, data, {"copyuid": copyuid}

    def cmd_copy(self, uids, name):
        return self.copied("COPY", uids, name)

    def cmd_move(self, uids, name):
        return self.copied("MOVE", uids, name)

    def cmd_expunge(self):
        typ, data = self.m.expunge()  # takes the EXPUNGE responses
        return typ, data, {"expunged": [int(n) for n in data if n]}

    def cmd_idle(self, count, seconds):
        count, deadline = int(count), time.monotonic() + float(seconds)
        start = time.monotonic()
        tag = self.m._new_tag()
        self.m.send(tag + b" IDLE\r\n")
        line = self.m._get_line()
        if not line.startswith(b"+"):
            return "BAD", [line], {}
        if self.ready_file:
            open(self.ready_file, "w").close()
        exists = None
        while exists is None or exists < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.m.sock.settimeout(left)
            try:
                line = self.m._get_line()
            except (socket.timeout, TimeoutError):
                break
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                exists = int(m.group(1))
        waited = time.monotonic() - start
        self.m.sock.settimeout(None)
        self.m.send(b"DONE\r\n")
        while True:
            line = self.m._get_line()
            if line.startswith(tag + b" "):
                status, _, text = line[len(tag) + 1:].partition(b" ")
                break
        out = {"seconds": round(waited, 3)}
        if exists is not None:
            out["exists"] = exists
        return status.decode(), [text], out

    def cmd_sleep(self, seconds):
        time.sleep(float(seconds))
        return "OK", [b"slept"]

    def cmd_signal(self, path):
        open(path, "w").close()
        return "OK", [b"signalled"]

    def cmd_wait_file(self, path, seconds):
        deadline = time.monotonic() + float(seconds)
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                return "ERROR", [b"no " + path.encode()]
            time.sleep(0.05)
        return "OK", [b"found"]


class Pop3:
    def __init__(self, port, timeout):
        self.p = poplib.POP3("127.0.0.1", port, timeout=timeout)

    def login(self, user, password):
        try:
            self.p.user(user)
            return result("login", [user], "OK",
                          text_of(self.p.pass_(password)[4:]))
        except poplib.error_proto as e:
            return self.error("login", [user], e)

    def error(self, cmd, args, e):
        text = text_of(e.args[0]) if e.args else str(e)
        return result(cmd, args, "ERR",
                      text[5:] if text.startswith("-ERR ") else text)

    def run(self, cmd, args):
        handler = getattr(self, "cmd_" + cmd.replace("-", "_"), None)
        if handler is None:
            return result(cmd, args, "ERROR", "unknown command"), True
        try:
            extra = handler(*args)
        except poplib.error_proto as e:
            return self.error(cmd, args, e), True
        except (OSError, EOFError) as e:
            return result(cmd, args, "ERROR", repr(e)), False
        r = result(cmd, args, "OK", "")
        r.update(extra)
        return r, cmd != "quit"

    def cmd_stat(self):
        count, size = self.p.stat()
        return {"count": count, "size": size}

    def cmd_list(self):
        _, lines, _ = self.p.list()
        return {"sizes": [{"msg": int(n), "size": int(s)} for n, s in
                          (line.split() for line in lines)]}

    def cmd_uidl(self):
        _, lines, _ = self.p.uidl()
        return {"uidls": [{"msg": int(n), "uidl": u.decode()} for n, u in
                          (line.split() for line in lines)]}

    def cmd_retr_digests(self):
        count, _ = self.p.stat()
        messages = []
        for n in range(1, count + 1):
            _, lines, _ = self.p.retr(n)
            data = b"".join(line + b"\r\n" for line in lines)
            messages.append({"msg": n, "length": len(data),
                             "sha256": hashlib.sha256(data).hexdigest()})
        return {"messages": messages}

    def cmd_dele(self, *msgs):
        for n in msgs:
            self.p.dele(int(n))
        return {}

    def cmd_rset(self):
        self.p.rset()
        return {}

    def cmd_noop(self):
        self.p.noop()
        return {}

    def cmd_quit(self):
        self.p.quit()
        return {}


def split_commands(words):
    commands, current = [], []
    for w in words:
        if w == ";":
            if current:
                commands.append(current)
            current = []
        else:
            current.append(w)
    if current:
        commands.append(current)
    return commands


def main(argv):
    pop3, ready_file, timeout = False, None, 60.0
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--pop3":
            pop3 = True
        elif opt == "--ready-file":
            ready_file = argv.pop(0)
        elif opt == "--timeout":
            timeout = float(argv.pop(0))
        else:
            sys.exit("unknown option " + opt)
    if len(argv) < 3:
        sys.exit(__doc__)
    port, user, password = int(argv[0]), argv[1], argv[2]
    try:
        client = (Pop3(port, timeout) if pop3
                  else Imap(port, timeout, ready_file))
    except (OSError, EOFError, imaplib.IMAP4.error, poplib.error_proto) as e:
        out = {"login": result("connect", [], "ERROR", repr(e)),
               "results": []}
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    out = {"login": client.login(user, password), "results": []}
    if out["login"]["status"] == "OK":
        for words in split_commands(argv[3:]):
            r, go_on = client.run(words[0], words[1:])
            out["results"].append(r)
            if not go_on:
                break
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
