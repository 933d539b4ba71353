"""The benchmark's messages, and the LDAP entries ldapmda makes of them:
as files for ldapmda and dovecot-lda, as LDIF for ldapadd, as an LMTP
session."""

import base64
import datetime
import hashlib
import re

from .common import (INBOX_DN, MSG_DATE, MSG_DATE_GT, RECIPIENT, SENDER)

FILLER_WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed "
                "do eiusmod tempor incididunt ut labore et dolore magna aliqua "
                "directory entry message delivery replication benchmark").split()


def _filler_lines():
    """1024 distinct lines of text, 40-76 bytes each, to build bodies from."""
    lines, i = [], 7
    for _ in range(1024):
        words = []
        while sum(len(w) + 1 for w in words) < 40 + i % 37:
            i = (i * 1103515245 + 12345) & 0x7FFFFFFF
            words.append(FILLER_WORDS[(i >> 8) % len(FILLER_WORDS)])
        lines.append(" ".join(words) + "\n")
    return lines


FILLER_LINES = _filler_lines()


def make_message(tag, size):
    """A plain-text message of exactly `size` bytes, LF line ends, as
    Postfix's pipe(8) with flags=DRX hands it over (Return-Path and
    Delivered-To first). `tag` makes it (and so its mdaKey) unique."""
    head = (f"Return-Path: <{SENDER}>\n"
            f"Delivered-To: {RECIPIENT}\n"
            f"From: Bench Sender <{SENDER}>\n"
            f"To: Alice Smith <{RECIPIENT}>\n"
            f"Subject: Benchmark message {tag}\n"
            f"Date: {MSG_DATE}\n"
            f"Message-ID: <{tag}@bench.example.org>\n"
            f"MIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=us-ascii\n"
            f"\n").encode()
    # Deterministic text that differs per tag.
    i = int.from_bytes(hashlib.sha256(tag.encode()).digest()[:4], "big")
    body, n = [], len(head)
    while n < size:
        i = (i * 1103515245 + 12345) & 0x7FFFFFFF
        line = FILLER_LINES[(i >> 8) % len(FILLER_LINES)]
        body.append(line)
        n += len(line)
    msg = (head + "".join(body).encode())[:size - 1]
    return msg + b"\n"


def message_key(raw, recipient=RECIPIENT):
    return hashlib.sha256(recipient.lower().encode() + b"\n" + raw).hexdigest()


def message_dn(raw):
    return f"mdaKey={message_key(raw)},{INBOX_DN}"


def generalized_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ")


def entry_attributes(raw, tag, delivered_at):
    """The attributes ldapmda writes for `raw` (checked against a real
    delivery before anything is timed)."""
    return [
        ("objectClass", "mdaMessage"),
        ("mdaKey", message_key(raw)),
        ("mdaRawMessage", raw),
        ("mdaSize", str(len(raw))),
        ("mdaMessageId", f"{tag}@bench.example.org"),
        ("mdaSubject", f"Benchmark message {tag}"),
        ("mdaFrom", f"Bench Sender <{SENDER}>"),
        ("mdaTo", f"Alice Smith <{RECIPIENT}>"),
        ("mdaDate", MSG_DATE_GT),
        ("mdaDeliveredAt", delivered_at),
        ("mdaEnvelopeSender", SENDER),
        ("mdaEnvelopeRecipient", RECIPIENT),
        ("mdaFolder", "INBOX"),
    ]


SAFE_LDIF = re.compile(rb"^[\x01-\x09\x0b-\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f]"
                       rb"[\x01-\x09\x0b-\x0c\x0e-\x7f]*$")


def ldif_entry(dn, attrs):
    lines = [f"dn: {dn}".encode()]
    for name, value in attrs:
        v = value if isinstance(value, bytes) else value.encode()
        if SAFE_LDIF.match(v) and not v.endswith(b" "):
            lines.append(name.encode() + b": " + v)
        else:
            lines.append(name.encode() + b":: " + base64.b64encode(v))
    return b"\n".join(lines) + b"\n\n"


def parse_ldif(text):
    """ldapsearch -LLL -o ldif-wrap=no output -> list of {attr: [bytes]}."""
    entries, entry = [], None
    for line in text.split(b"\n"):
        if not line.strip():
            entry = None
            continue
        if line.startswith(b"#"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b":"):
            value = base64.b64decode(value[1:].strip())
        else:
            value = value[1:] if value.startswith(b" ") else value
        if entry is None:
            entry = {}
            entries.append(entry)
        entry.setdefault(name.decode().lower(), []).append(value)
    return entries


def lmtp_data(raw):
    """The DATA part of an LMTP transaction that makes ldapmda store `raw`
    (it puts Return-Path and Delivered-To back in front itself)."""
    prefix = f"Return-Path: <{SENDER}>\nDelivered-To: {RECIPIENT}\n".encode()
    assert raw.startswith(prefix)
    body = raw[len(prefix):]
    out = []
    for line in body.split(b"\n")[:-1]:
        if line.startswith(b"."):
            line = b"." + line
        out.append(line + b"\r\n")
    return b"".join(out) + b".\r\n"

