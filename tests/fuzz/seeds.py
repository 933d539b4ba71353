#!/usr/bin/env python3
"""Writes the libFuzzer seed directories into OUT (a build directory).

  seeds.py OUT [CORPUS]

OUT/message  every message MANIFEST.tsv lists in CORPUS (default
             ../shared/corpus/public beside the source tree), the report
             fixtures of tests/data/reports, plus a few hand-written edge
             cases
OUT/address  addresses with templates, in fuzz_address's input format
OUT/config   conf/ldapmda.conf and variants, in fuzz_config's format
             (the file, then "\\0\\n" and -o overrides, one a line)
OUT/lmtp     scripted LMTP sessions, in fuzz_lmtp's format
OUT/folder   folder names and flag sets, in fuzz_folder's format (the
             name; or the flag bits, then keywords separated by NULs)

Nothing is written into the source tree.
"""
import hashlib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def write(directory, data):
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


# --- messages -------------------------------------------------------------

EXTRA_MESSAGES = [
    b"From sender@example.com Mon Jan  1 00:00:00 2024\n"
    b"Subject: mbox\n\nbody\n",
    b"Subject: =?UTF-8?B?w6l0w6k=?= =?ISO-8859-1?Q?caf=E9?=\r\n"
    b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.com>, broken <@>\r\n"
    b"To: undisclosed-recipients:;\r\nCc: a@b, \"x, y\" <c@d>\r\n"
    b"Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"
    b"Message-ID: <id@example.com>\r\n\r\nbody\r\n",
    b"Subject: folded\n\tover\n  lines\nDate: 31 Dec 9999 23:59:59 -1200\n\n",
    b"Subject: \x80\xff\xfe latin1 caf\xe9\nFrom: \x00nul@x\n\n",
    b"Date: Sat, 29 Feb 0000 25:61:61 +9999\nMessage-ID: <<>>\n\n",
    b"To: " + b"a@b, " * 400 + b"\n\n",
    b"Subject: " + b"=?utf-8?b?" + b"4oCo" * 50 + b"?=\n\n",
    b"\r\n\r\nno headers\r\n",
]


def messages(out, corpus):
    manifest = os.path.join(corpus, "MANIFEST.tsv")
    n = 0
    if os.path.exists(manifest):
        with open(manifest, encoding="utf-8") as f:
            next(f)  # header
            for line in f:
                path = line.split("\t", 1)[0]
                with open(os.path.join(corpus, path), "rb") as m:
                    write(out, m.read())
                n += 1
    else:
        print(f"seeds.py: {manifest} missing: hand-written messages only",
              file=sys.stderr)
    # The report fixtures: bounces, feedback reports, automatic replies.
    reports = os.path.join(ROOT, "tests", "data", "reports")
    for name in sorted(os.listdir(reports)):
        with open(os.path.join(reports, name), "rb") as m:
            write(out, m.read())
        n += 1
    for m in EXTRA_MESSAGES:
        write(out, m)
    return n + len(EXTRA_MESSAGES)


# --- addresses ------------------------------------------------------------

def fdp_strings(*parts):
    """FuzzedDataProvider::ConsumeRandomLengthString form: a backslash is
    doubled, a backslash and another byte end the string; the last part is
    the rest of the input."""
    out = b""
    for p in parts[:-1]:
        out += p.replace(b"\\", b"\\\\") + b"\\|"
    return out + parts[-1]


ADDRESSES = [
    b"alice@example.com", b"Alice+Lists@Example.COM", b"bob-request@x",
    b"owner-list@x", b"a+b+c@x", b"+ext@x", b"user+@x", b"noat",
    b"a@b@c", b"@x", b"x@", b"", b"*)(uid=*))(|(uid=*@evil",
    b"a\\2a@x", b"\x00@x", b"tab\there@x", b"caf\xc3\xa9@x", b"\xff\xfe@x",
    b"\"quoted local\"@x", b" lead@x", b"trail @x", b"#hash@x",
    b"a,b+c=d;e<f>g\"h\\i@x", b"inbox+INBOX@x", b"u+\xe2\x80\xa8x@x",
    b"x" * 1025, b"y" * 1024,
]
FILTERS = [b"(mail=%s)", b"(&(objectClass=inetOrgPerson)(|(mail=%s)(uid=%u)))",
           b"(associatedDomain=%d)", b"(mail=*%s*)", b"(cn=100%%%u)",
           b"(|(mail=%s)(mailAlternateAddress=%u@%d))", b"%s", b"(mail=%x)"]
DNS = [b"cn=mailbox,{dn}", b"cn={user}+uid={domain},{dn}",
       b"cn={address},ou=mail,dc=example", b"cn={dn", b"uid={nope},{dn}"]
ENTRIES = [b"uid=alice,ou=people,dc=example,dc=com", b"cn=a\\,b+sn=c,dc=x",
           b"", b"not a dn"]


def addresses(out):
    n = 0
    for i, a in enumerate(ADDRESSES):
        f = FILTERS[i % len(FILTERS)]
        d = DNS[i % len(DNS)]
        e = ENTRIES[i % len(ENTRIES)]
        delims = [b"+", b"-", b"+-", b"", b"@"][i % 5]
        write(out, fdp_strings(a, f, delims, d, e))
        n += 1
    return n


# --- config ---------------------------------------------------------------

CONFIG_VARIANTS = [
    b"search_base = dc=example,dc=com\n",
    b"search_base = dc=example,dc=com\nscope = one\nquery_filter = "
    b"(&(objectClass=inetOrgPerson)(mail=%s))\nbind = sasl\nsasl_mech = "
    b"EXTERNAL\nserver_host = ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi "
    b"ldap://b:389, ldaps://c\nstart_tls = yes\ntls_require_cert = try\n",
    b"search_base = o=x\ntimeout = 0.5s\ndeadline = 900\nlmtp_timeout = 1e3\n"
    b"max_message_size = 2147483648\nlmtp_max_recipients = 100\n",
    b"search_base = o=x\nrecipient_delimiter = +-\nextension_folder = off\n"
    b"catchall_query_filter = (mail=@%d)\naccount_status_attribute = "
    b"mdaAccountStatus\naccount_disabled_values = disabled, locked\tgone\n"
    b"quota_attribute = mdaQuota;binary\nquota_full_tempfail = true\n",
    b"search_base = o=x\nmailbox_dn = cn={user}+uid={domain},{dn}\n"
    b"log = stderr\nversion = 3\n",
    b"[section]\nsearch_base = o=x\n",
    b"search_base = o=x\nsearch_base = o=y\n",
    b"search_base=o=x\r\nunknown = 1\r\n",
    b"search_base = o=x\nbind = simple\nbind_dn = cn=a,o=x\n",
    b"search_base = o=x\x00\nscope=base\nlog=stderr\nbogus",
    b"search_base = o=x\x00\n=\nquery_filter=(uid=%u)",
    b"# only a comment\n",
    b"search_base = \xff\xfe\n",
]


def configs(out):
    with open(os.path.join(ROOT, "conf", "ldapmda.conf"), "rb") as f:
        shipped = f.read()
    write(out, shipped)
    # The shipped file with every commented-out key switched on.
    uncommented = re.sub(rb"(?m)^#([a-z_]+ =)", rb"\1", shipped)
    write(out, uncommented + b"\x00\nlog=stderr")
    for v in CONFIG_VARIANTS:
        write(out, v)
    return 2 + len(CONFIG_VARIANTS)


# --- LMTP -----------------------------------------------------------------

def lmtp_seed(session, settings=0x05, chunks=None):
    """Session bytes, then the chunk sizes (read from the end backwards),
    then the settings byte. Without `chunks` the session is fed whole."""
    tail = bytes(reversed(chunks)) if chunks else b"\x00"
    return session + tail + bytes([settings])


T = b"LHLO client\r\nMAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\nDATA\r\n"
SESSIONS = [
    (T + b"Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n", 0x05),
    # Pipelined, with mixed recipient outcomes.
    (b"LHLO c\r\nMAIL FROM:<s@x> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<a@x>\r\n"
     b"RCPT TO:<nobody@x>\r\nRCPT TO:<c@x>\r\nRCPT TO:<d@x>\r\n"
     b"RCPT TO:<full@x>\r\nRCPT TO:<later@x>\r\nRCPT TO:<temp@x>\r\n"
     b"DATA\r\nSubject: s\r\n\r\nx\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<b@x>\r\n"
     b"DATA\r\ny\r\n.\r\nQUIT\r\n", 0x09),
    # Dot-stuffing, bare LF, NUL and 8-bit bytes.
    (T + b"Subject: s\r\n\r\n..leading dot\r\n...two\r\n.x\r\n\x80\xff\x00\r"
     b"\r\n.\n", 0x06),
    (b"LHLO c\nMAIL FROM:<s@x>\nRCPT TO:<a@x>\nDATA\n.\n", 0x05),
    # Errors: wrong order, bad syntax, parameters, VRFY, HELO, RSET.
    (b"MAIL FROM:<s@x>\r\nHELO x\r\nEHLO x\r\nLHLO\r\nLHLO c\r\nRCPT TO:<a@x>"
     b"\r\nDATA\r\nMAIL FROM:s@x\r\nMAIL FROM:<s@x> SIZE=x\r\n"
     b"MAIL FROM:<s@x> SIZE=99999999\r\nMAIL FROM:<s@x> BODY=binarymime\r\n"
     b"MAIL FROM:<s@x> AUTH=<>\r\nMAIL FROM:<\"a>b\"@x>\r\nMAIL FROM:<s@x>\r\n"
     b"RCPT TO:<a@x> NOTIFY=NEVER\r\nRCPT TO:<@x>\r\nRCPT TO:a@x\r\n"
     b"DATA\r\nVRFY a\r\nNOOP\r\nRSET\r\nDATA\r\nBOGUS\r\nQUIT\r\n", 0x05),
    # Too many recipients (max 3), an overlong line, too big a message.
    (b"LHLO c\r\nMAIL FROM:<s@x>\r\n" + b"RCPT TO:<a@x>\r\n" * 5 +
     b"NOOP " + b"x" * 600 + b"\r\nDATA\r\n" + b"z" * 500 + b"\r\n.\r\n",
     0x04),
    # Split in small pieces, CR LF split apart.
    (T + b"Subject: split\r\n\r\nbody\r\n.\r\nQUIT\r\n", 0x05,
     [1, 5, 7, 1, 20, 3, 2, 1, 1, 9, 4, 13, 1]),
    (T + b"x\r\n.\r", 0x45, [40, 5, 1]),
]


def lmtp(out):
    for s in SESSIONS:
        write(out, lmtp_seed(*s))
    return len(SESSIONS)


FOLDERS = [b"INBOX", b"lists", b"Archive/2026", b"x,cn=mailbox,uid=bob",
           b"#hash", b" lead", b"trail ", b"caf\xc3\xa9", b"a\\b+c=d<e>;f\"g",
           b"\x0f\\Seen\0$Label1\0$label1\0Junk Mail\0\\Deleted"]


def folders(out):
    for f in FOLDERS:
        write(out, f)
    return len(FOLDERS)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    corpus = sys.argv[2] if len(sys.argv) == 3 else os.path.join(
        ROOT, "..", "shared", "corpus", "public")
    counts = {
        "message": messages(os.path.join(out, "message"), corpus),
        "address": addresses(os.path.join(out, "address")),
        "config": configs(os.path.join(out, "config")),
        "lmtp": lmtp(os.path.join(out, "lmtp")),
        "folder": folders(os.path.join(out, "folder")),
    }
    print("seeds: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
