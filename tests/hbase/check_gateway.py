"""Checks the test gateway (gateway.py) with happybase, an independent HBase Thrift client:
tables and families, puts and batches, versions with timestamps, max versions, regions from
split keys, scans with start/stop rows, column lists and batch sizes, deletes.

    python check_gateway.py PORT TRANSPORT PROTOCOL    (the gateway started with --splits
                                                        '{"gw_check": ["m"]}')
Prints "ok" or fails with an assertion.
"""

import sys

import happybase

port, transport, protocol = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = happybase.Connection("127.0.0.1", port, transport=transport, protocol=protocol)
c.create_table("gw_check", {"cf": dict(max_versions=3), "x": dict(max_versions=1)})
assert b"gw_check" in c.tables(), c.tables()
t = c.table("gw_check")
assert set(t.families()) == {b"cf", b"x"}, t.families()
assert t.families()[b"cf"]["max_versions"] == 3

# Versions: four puts at explicit timestamps, three kept, newest first.
for ts in (10, 20, 30, 40):
    t.put(b"a", {b"cf:q": b"v%d" % ts}, timestamp=ts)
cells = t.cells(b"a", b"cf:q", versions=10, include_timestamp=True)
assert cells == [(b"v40", 40), (b"v30", 30), (b"v20", 20)], cells
assert t.row(b"a") == {b"cf:q": b"v40"}

# A family with max versions 1 keeps one.
t.put(b"a", {b"x:y": b"1"}, timestamp=1)
t.put(b"a", {b"x:y": b"2"}, timestamp=2)
assert t.cells(b"a", b"x:y", versions=5) == [b"2"]

# Batches and binary keys.
with t.batch() as b:
    for i in range(50):
        b.put(bytes([0x00, i]) + b"k", {b"cf:n": str(i).encode(), b"x:z": b"z"})
    b.put(b"zz", {b"cf:n": b"last"})

# Regions from the split key "m".
regions = c.client.getTableRegions(b"gw_check")
assert [(r.startKey, r.endKey) for r in regions] == [(b"", b"m"), (b"m", b"")], regions

# Scans: all rows once in key order, start/stop, columns, batch size.
keys = [k for k, _ in t.scan()]
assert keys == sorted(keys) and len(keys) == 52, keys
assert [k for k, _ in t.scan(row_start=b"m")] == [b"zz"]
assert [k for k, _ in t.scan(row_stop=b"\x00\x03")] == [bytes([0, i]) + b"k" for i in range(3)]
only = dict(t.scan(columns=[b"x"]))
assert all(set(v) == {b"x:z"} or set(v) == {b"x:y"} for v in only.values()), only
chunks = [d for k, d in t.scan(row_start=b"\x00\x00", row_stop=b"\x00\x01", scan_batching=1)]
assert [sorted(d) for d in chunks] == [[b"cf:n"], [b"x:z"]], chunks

# Deletes.
t.delete(b"zz")
assert t.row(b"zz") == {}
c.delete_table("gw_check", disable=True)
assert b"gw_check" not in c.tables()
print("ok")
