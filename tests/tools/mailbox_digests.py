#!/usr/bin/env python3
"""Reads an mbox file or a Maildir with Python's standard `mailbox` module,
an mbox/Maildir parser independent of ldapmbox, and prints one line per
message: its folder ("INBOX" for a Maildir's top and for an mbox), a tab,
and the SHA-256 of its bytes.

mbox: mailbox.mbox splits at "From " lines and drops the empty line that
ends each message; it does not undo mboxrd quoting, so this script takes
one '>' off every line matching ^>+"From " (the mboxrd rule). Nothing else
is changed: a message that had no final newline reads with one.

Maildir: mailbox.Maildir, the top directory and every Maildir++ folder
(list_folders), file bytes as they are. Folder names are printed as
stored on disk (modified UTF-7).

usage: mailbox_digests.py (--mbox FILE | --maildir DIR)
"""
import argparse
import hashlib
import mailbox
import re
import sys

MBOXRD_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)


def mbox_digests(path):
    box = mailbox.mbox(path, create=False)
    for key in box.iterkeys():
        data = MBOXRD_QUOTED.sub(rb"\1", box.get_bytes(key))
        yield "INBOX", hashlib.sha256(data).hexdigest()


def maildir_digests(path):
    top = mailbox.Maildir(path, factory=None, create=False)
    folders = [("INBOX", top)]
    folders += [(name, top.get_folder(name)) for name in top.list_folders()]
    for name, box in folders:
        for key in box.iterkeys():
            yield name, hashlib.sha256(box.get_bytes(key)).hexdigest()


def main():
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--mbox")
    group.add_argument("--maildir")
    args = parser.parse_args()
    rows = mbox_digests(args.mbox) if args.mbox else maildir_digests(args.maildir)
    for folder, digest in rows:
        sys.stdout.write(f"{folder}\t{digest}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
