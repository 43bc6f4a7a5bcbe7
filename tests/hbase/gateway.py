"""A protocol-level HBase Thrift1 gateway for datasync's tests.

It serves the `Hbase` service of HBase's own Thrift1 IDL (the Hbase.thrift that ships in the
happybase package, loaded with thriftpy2) over an in-memory store with HBase's semantics:
tables with column families (max versions each), cells addressed `family:qualifier` holding
timestamped versions (newest first, trimmed to the family's max versions), regions cut at split
keys, scanners with start/stop rows, column lists, caching and batch sizes (a row's cells in
results of at most `batchSize` cells), `getVer`, and puts/deletes by `mutateRow(s)[Ts]`.

    python gateway.py --port P [--transport framed|buffered] [--protocol binary|compact]
                      [--splits '{"table": ["k1", "\\x00\\x02"]}'] [--state FILE] [--slow-scans SECONDS]

Binds 127.0.0.1 only. `--state` gets a JSON line after every scanner call: scanners opened,
closed and open now, so a test can see that a client closed its scanners. `--slow-scans`
makes each scannerGetList wait, so a test can stop a client in the middle of a scan.
"""

import argparse
import json
import os
import sys
import threading
import time

import happybase
import thriftpy2
from thriftpy2.protocol import TBinaryProtocolFactory, TCompactProtocolFactory
from thriftpy2.rpc import make_server
from thriftpy2.transport import TBufferedTransportFactory, TFramedTransportFactory

IDL = os.path.join(os.path.dirname(happybase.__file__), "Hbase.thrift")
Hbase = thriftpy2.load(IDL, module_name="Hbase_thrift")


def binary_key(s):
    """HBase's Bytes.toBytesBinary: \\xHH escapes become bytes."""
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1:i + 2] == "x":
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(ord(s[i]))
            i += 1
    return bytes(out)


def now_ms():
    return int(time.time() * 1000)


class Table:
    def __init__(self, families, splits):
        self.families = families  # name (bytes, no colon) -> max versions
        self.splits = sorted(splits)  # region boundaries (bytes)
        self.rows = {}  # key -> {column bytes -> [(ts, value)] newest first}


class Handler:
    def __init__(self, splits, state, slow):
        self.lock = threading.RLock()
        self.tables = {}
        self.pending_splits = splits
        self.scanners = {}
        self.next_scanner = 1
        self.opened = 0
        self.closed = 0
        self.state = state
        self.slow = slow

    # ---- helpers ----------------------------------------------------------------------------
    def _table(self, name):
        t = self.tables.get(bytes(name))
        if t is None:
            raise Hbase.IOError(message="TableNotFoundException: %s" % bytes(name).decode("utf-8", "replace"))
        return t

    def _write_state(self):
        if self.state:
            tmp = self.state + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"opened": self.opened, "closed": self.closed, "open": len(self.scanners)}, f)
            os.replace(tmp, self.state)

    def _put(self, t, row, column, value, ts):
        family = column.split(b":", 1)[0]
        if family not in t.families or b":" not in column:
            raise Hbase.IOError(message="NoSuchColumnFamilyException: column %r of family %r" % (column, family))
        versions = t.rows.setdefault(row, {}).setdefault(column, [])
        versions[:] = [v for v in versions if v[0] != ts]
        versions.append((ts, value))
        versions.sort(key=lambda v: -v[0])
        del versions[t.families[family]:]

    def _mutate(self, table, row, mutations, ts):
        t = self._table(table)
        row = bytes(row)
        for m in mutations:
            column = bytes(m.column)
            if m.isDelete:
                cells = t.rows.get(row, {})
                for c in [c for c in cells if c == column or c.split(b":", 1)[0] == column.rstrip(b":")]:
                    del cells[c]
                if row in t.rows and not t.rows[row]:
                    del t.rows[row]
            else:
                self._put(t, row, column, bytes(m.value), ts)

    @staticmethod
    def _wanted(column, columns):
        if not columns:
            return True
        family = column.split(b":", 1)[0]
        return any(c == column or c.rstrip(b":") == family for c in columns)

    def _row_result(self, key, cells):
        return Hbase.TRowResult(
            row=key,
            columns={c: Hbase.TCell(value=v[0][1], timestamp=v[0][0]) for c, v in cells},
            sortedColumns=None,
        )

    # ---- admin ------------------------------------------------------------------------------
    def getTableNames(self):
        with self.lock:
            return sorted(self.tables)

    def createTable(self, tableName, columnFamilies):
        with self.lock:
            name = bytes(tableName)
            if name in self.tables:
                raise Hbase.AlreadyExists(message="table %r exists" % name)
            fams = {}
            for cd in columnFamilies:
                fams[bytes(cd.name).rstrip(b":")] = cd.maxVersions or 1
            splits = [binary_key(s) for s in self.pending_splits.get(name.decode("utf-8", "replace"), [])]
            self.tables[name] = Table(fams, splits)

    def deleteTable(self, tableName):
        with self.lock:
            self._table(tableName)
            del self.tables[bytes(tableName)]

    def enableTable(self, tableName):
        pass

    def disableTable(self, tableName):
        pass

    def isTableEnabled(self, tableName):
        return True

    def getColumnDescriptors(self, tableName):
        with self.lock:
            t = self._table(tableName)
            return {f + b":": Hbase.ColumnDescriptor(name=f + b":", maxVersions=v) for f, v in t.families.items()}

    def getTableRegions(self, tableName):
        with self.lock:
            t = self._table(tableName)
            edges = [b""] + t.splits + [b""]
            return [
                Hbase.TRegionInfo(startKey=edges[i], endKey=edges[i + 1], id=i + 1,
                                  name=bytes(tableName) + b",region" + str(i).encode(),
                                  version=1, serverName=b"127.0.0.1", port=0)
                for i in range(len(edges) - 1)
            ]

    # ---- reads ------------------------------------------------------------------------------
    def getVer(self, tableName, row, column, numVersions, attributes):
        with self.lock:
            t = self._table(tableName)
            versions = t.rows.get(bytes(row), {}).get(bytes(column), [])
            return [Hbase.TCell(value=v, timestamp=ts) for ts, v in versions[:numVersions]]

    def getVerTs(self, tableName, row, column, timestamp, numVersions, attributes):
        with self.lock:
            t = self._table(tableName)
            versions = [v for v in t.rows.get(bytes(row), {}).get(bytes(column), []) if v[0] <= timestamp]
            return [Hbase.TCell(value=v, timestamp=ts) for ts, v in versions[:numVersions]]

    def get(self, tableName, row, column, attributes):
        return self.getVer(tableName, row, column, 1, attributes)

    def getRowWithColumns(self, tableName, row, columns, attributes):
        with self.lock:
            t = self._table(tableName)
            cells = t.rows.get(bytes(row))
            if not cells:
                return []
            wanted = [bytes(c) for c in (columns or [])]
            return [self._row_result(bytes(row), sorted((c, v) for c, v in cells.items() if self._wanted(c, wanted)))]

    def getRow(self, tableName, row, attributes):
        return self.getRowWithColumns(tableName, row, None, attributes)

    def getRowsWithColumns(self, tableName, rows, columns, attributes):
        out = []
        for r in rows:
            out.extend(self.getRowWithColumns(tableName, r, columns, attributes))
        return out

    def getRows(self, tableName, rows, attributes):
        return self.getRowsWithColumns(tableName, rows, None, attributes)

    # ---- writes -----------------------------------------------------------------------------
    def mutateRow(self, tableName, row, mutations, attributes):
        with self.lock:
            self._mutate(tableName, row, mutations, now_ms())

    def mutateRowTs(self, tableName, row, mutations, timestamp, attributes):
        with self.lock:
            self._mutate(tableName, row, mutations, timestamp)

    def mutateRows(self, tableName, rowBatches, attributes):
        with self.lock:
            ts = now_ms()
            for b in rowBatches:
                self._mutate(tableName, b.row, b.mutations, ts)

    def mutateRowsTs(self, tableName, rowBatches, timestamp, attributes):
        with self.lock:
            for b in rowBatches:
                self._mutate(tableName, b.row, b.mutations, timestamp)

    def deleteAllRow(self, tableName, row, attributes):
        with self.lock:
            self._table(tableName).rows.pop(bytes(row), None)

    def deleteAll(self, tableName, row, column, attributes):
        with self.lock:
            self._mutate(tableName, row, [Hbase.Mutation(isDelete=True, column=column)], 0)

    # ---- scanners ---------------------------------------------------------------------------
    def scannerOpenWithScan(self, tableName, scan, attributes):
        with self.lock:
            t = self._table(tableName)
            start = bytes(scan.startRow or b"")
            stop = bytes(scan.stopRow or b"")
            wanted = [bytes(c) for c in (scan.columns or [])]
            batch = scan.batchSize or 0
            results = []
            for key in sorted(t.rows):
                if key < start or (stop and key >= stop):
                    continue
                cells = sorted((c, v) for c, v in t.rows[key].items() if self._wanted(c, wanted))
                if not cells:
                    continue
                if batch > 0:
                    for i in range(0, len(cells), batch):
                        results.append(self._row_result(key, cells[i:i + batch]))
                else:
                    results.append(self._row_result(key, cells))
            sid = self.next_scanner
            self.next_scanner += 1
            self.scanners[sid] = results
            self.opened += 1
            self._write_state()
            return sid

    def scannerOpen(self, tableName, startRow, columns, attributes):
        return self.scannerOpenWithScan(tableName, Hbase.TScan(startRow=startRow, columns=columns), attributes)

    def scannerOpenWithStop(self, tableName, startRow, stopRow, columns, attributes):
        return self.scannerOpenWithScan(tableName, Hbase.TScan(startRow=startRow, stopRow=stopRow, columns=columns), attributes)

    def scannerGetList(self, id, nbRows):
        if self.slow:
            time.sleep(self.slow)
        with self.lock:
            if id not in self.scanners:
                raise Hbase.IllegalArgument(message="no scanner %d" % id)
            rows = self.scanners[id]
            out, self.scanners[id] = rows[:max(nbRows, 0)], rows[max(nbRows, 0):]
            return out

    def scannerGet(self, id):
        return self.scannerGetList(id, 1)

    def scannerClose(self, id):
        with self.lock:
            if self.scanners.pop(id, None) is None:
                raise Hbase.IllegalArgument(message="no scanner %d" % id)
            self.closed += 1
            self._write_state()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--transport", default="framed", choices=["framed", "buffered"])
    p.add_argument("--protocol", default="binary", choices=["binary", "compact"])
    p.add_argument("--splits", default="{}")
    p.add_argument("--state", default="")
    p.add_argument("--slow-scans", type=float, default=0.0)
    p.add_argument("--fast", action="store_true", help="thriftpy2's compiled codecs (benchmarks)")
    a = p.parse_args()
    handler = Handler(json.loads(a.splits), a.state, a.slow_scans)
    handler._write_state()
    proto = TCompactProtocolFactory() if a.protocol == "compact" else TBinaryProtocolFactory()
    trans = TFramedTransportFactory() if a.transport == "framed" else TBufferedTransportFactory()
    if a.fast and a.protocol == "binary" and a.transport == "framed":
        from thriftpy2.protocol import TCyBinaryProtocolFactory
        from thriftpy2.transport import TCyFramedTransportFactory
        proto, trans = TCyBinaryProtocolFactory(), TCyFramedTransportFactory()
    server = make_server(Hbase.Hbase, handler, host="127.0.0.1", port=a.port,
                         proto_factory=proto, trans_factory=trans, client_timeout=None)
    print("listening on 127.0.0.1:%d (%s, %s)" % (a.port, a.transport, a.protocol), flush=True)
    server.serve()


if __name__ == "__main__":
    sys.exit(main())
