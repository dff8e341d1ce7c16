#!/usr/bin/env python3
"""Independent verifier for Airlock's hash chains (usage_ledger, audit_log).

Uses only the Python standard library and the format in docs/SECURITY.md, not Airlock's code,
so an auditor can check the appliance's records with a tool Airlock did not write.

    python3 scripts/verify-chains.py /var/lib/airlock/airlock.sqlite

Exit status 0 when every chain verifies, 1 when one is broken. Run it on the live file (opened
read-only) or on a consistent copy made with `sqlite3 airlock.sqlite ".backup copy.sqlite"`.
"""
import hashlib
import sqlite3
import struct
import sys


def s(value):
    if value is None:
        return b"\x00"
    data = value.encode()
    return b"\x01" + struct.pack(">I", len(data)) + data


def i(value):
    return b"\x02" + struct.pack(">q", value)


LEDGER_V1 = [
    ("usage_id", s), ("request_id", s), ("ts", i), ("org_id", s), ("env_id", s), ("key_id", s),
    ("zone", s), ("model", s), ("node", s), ("prompt_tokens", i), ("completion_tokens", i),
    ("total_tokens", i), ("latency_ms", i), ("cost_micros", i), ("streamed", i),
    ("finish_reason", s), ("token_source", s)]

# Per table, per format (the row's `format` column; 1 where there is none): the domain string,
# then the row's fields in order; `seq` and `prev_hash` follow them. Formats never go down
# along a chain.
CHAINS = {
    "usage_ledger": {
        1: ("airlock.usage_ledger.v1", LEDGER_V1),
        2: ("airlock.usage_ledger.v2", LEDGER_V1 + [("failover", i)]),
    },
    "audit_log": {
        1: ("airlock.audit_log.v1", [
            ("ts", i), ("actor", s), ("action", s), ("target_type", s), ("target_id", s),
            ("before_json", s), ("after_json", s)]),
    },
}


def verify(db, table, formats):
    prev, want, last_format = "0" * 64, 1, 1
    for row in db.execute(f"SELECT * FROM {table} ORDER BY seq"):
        if row["seq"] != want:
            return f"BROKEN at seq {want}: row missing", want - 1, prev
        if row["prev_hash"] != prev:
            return f"BROKEN at seq {want}: prev_hash does not link", want - 1, prev
        row_format = row["format"] if "format" in row.keys() else 1
        if row_format not in formats:
            return f"BROKEN at seq {want}: unknown format {row_format}", want - 1, prev
        if row_format < last_format:
            return f"BROKEN at seq {want}: format {row_format} after format {last_format}", want - 1, prev
        last_format = row_format
        domain, fields = formats[row_format]
        data = s(domain) + b"".join(encode(row[column]) for column, encode in fields)
        data += i(row["seq"]) + s(prev)
        if hashlib.sha256(data).hexdigest() != row["hash"]:
            return f"BROKEN at seq {want}: content does not match hash", want - 1, prev
        prev, want = row["hash"], want + 1
    return "OK", want - 1, prev


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: verify-chains.py PATH/airlock.sqlite", file=sys.stderr)
        return 2
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    intact = True
    for table, formats in CHAINS.items():
        status, rows, head = verify(db, table, formats)
        intact = intact and status == "OK"
        print(f"{table}: {status}, {rows} rows verified, head {head}")
    return 0 if intact else 1


if __name__ == "__main__":
    sys.exit(main())
