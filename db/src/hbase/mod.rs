//! HBase over its Thrift gateway (`hbase thrift start`, the Thrift1 `Hbase` service): the
//! connection settings a job gives (`thriftAddress`, `transport`, `protocol`), the few calls a
//! reader and writer make (regions, scanners, versions of a cell, batched mutations), and the
//! cell encodings of HBase's `Bytes.toBytes`. Blocking: callers run it on blocking threads.

mod types;

pub use crate::thrift;

pub use types::{
    decode_cell, encode_cell, encode_float, encoding, from_binary_key, to_binary_key, HType,
};

pub use encoding_rs::Encoding;

use thrift::{Connection, Protocol, TType, TVal, ThriftError, Transport};

/// Where the gateway is and how it speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbaseConnConfig {
    /// host:port of the Thrift gateway.
    pub address: String,
    /// framed (default) or buffered.
    pub transport: Transport,
    /// binary (default) or compact.
    pub protocol: Protocol,
    /// Connect timeout.
    pub connect_timeout: std::time::Duration,
    /// Longest wait for one answer.
    pub io_timeout: std::time::Duration,
}

/// A failed gateway call: which call, where, why.
#[derive(Debug, thiserror::Error)]
#[error("HBase {call} at {address}")]
pub struct HbaseError {
    /// The call (with its table).
    pub call: String,
    /// The gateway.
    pub address: String,
    /// The cause.
    #[source]
    pub source: ThriftError,
}

impl HbaseError {
    /// The connection is gone (a retry on a new one may work).
    pub fn is_retriable(&self) -> bool {
        self.source.connection_lost()
    }

    /// The table or a family is missing or disabled: no row of a call can succeed.
    pub fn table_level(&self) -> bool {
        let m = self.source.to_string();
        [
            "TableNotFoundException",
            "NoSuchColumnFamilyException",
            "TableNotEnabledException",
            "TableNotDisabledException",
        ]
        .iter()
        .any(|e| m.contains(e))
    }
}

impl From<HbaseError> for datasync_engine::PluginError {
    fn from(e: HbaseError) -> Self {
        datasync_engine::PluginError::classified(e.is_retriable(), e)
    }
}

/// A region of a table: `[start, end)`; empty = open.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Region {
    /// First row key (inclusive); empty = the table's start.
    pub start: Vec<u8>,
    /// Row key where the next region starts (exclusive); empty = the table's end.
    pub end: Vec<u8>,
    /// The region's name.
    pub name: String,
}

/// One cell version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// `family:qualifier`.
    pub column: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// Its timestamp (milliseconds).
    pub timestamp: i64,
}

/// One row of a scan: the key and the latest version of each cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The row key.
    pub key: Vec<u8>,
    /// Its cells.
    pub cells: Vec<Cell>,
}

/// A scan: `[start, stop)` (empty = open), the columns (`family` or `family:qualifier`; empty
/// = all), rows per round trip, cells per result.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// First row (inclusive).
    pub start: Vec<u8>,
    /// Stop row (exclusive).
    pub stop: Vec<u8>,
    /// Columns.
    pub columns: Vec<Vec<u8>>,
    /// Rows the gateway caches per round trip.
    pub caching: i32,
    /// Cells per result (0 = whole rows).
    pub batch: i32,
}

/// One cell change of a row.
#[derive(Debug, Clone)]
pub struct Mutation {
    /// `family:qualifier`.
    pub column: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// Write-ahead log on.
    pub wal: bool,
}

/// An open gateway connection.
pub struct Hbase {
    conn: Connection,
    address: String,
}

const IO: &[&str] = &["IOError"];
const IO_IA: &[&str] = &["IOError", "IllegalArgument"];

fn bin(b: &[u8]) -> TVal {
    TVal::Bin(b.to_vec())
}

fn no_attributes() -> TVal {
    TVal::Map(TType::Binary, TType::Binary, Vec::new())
}

impl Hbase {
    /// Connects to the gateway.
    pub fn connect(c: &HbaseConnConfig) -> Result<Self, HbaseError> {
        let conn = Connection::connect(
            &c.address,
            c.protocol,
            c.transport,
            c.connect_timeout,
            c.io_timeout,
        )
        .map_err(|source| HbaseError {
            call: "connect".into(),
            address: c.address.clone(),
            source,
        })?;
        Ok(Hbase {
            conn,
            address: c.address.clone(),
        })
    }

    fn call(
        &mut self,
        name: &str,
        table: &[u8],
        args: &[(i16, TVal)],
        ex: &[&str],
    ) -> Result<TVal, HbaseError> {
        self.conn.call(name, args, ex).map_err(|source| HbaseError {
            call: format!("{name} on {}", String::from_utf8_lossy(table)),
            address: self.address.clone(),
            source,
        })
    }

    /// The table's regions in key order.
    pub fn regions(&mut self, table: &[u8]) -> Result<Vec<Region>, HbaseError> {
        let r = self.call("getTableRegions", table, &[(1, bin(table))], IO)?;
        let mut out: Vec<Region> = r
            .field(0)
            .map(TVal::list)
            .unwrap_or_default()
            .iter()
            .map(|ri| Region {
                start: ri.field(1).and_then(TVal::bin).unwrap_or_default().to_vec(),
                end: ri.field(2).and_then(TVal::bin).unwrap_or_default().to_vec(),
                name: String::from_utf8_lossy(ri.field(4).and_then(TVal::bin).unwrap_or_default())
                    .into_owned(),
            })
            .collect();
        out.sort_by(|a, b| a.start.cmp(&b.start));
        Ok(out)
    }

    /// The table's column families (`name` without the colon, max versions).
    pub fn families(&mut self, table: &[u8]) -> Result<Vec<(Vec<u8>, i32)>, HbaseError> {
        let r = self.call("getColumnDescriptors", table, &[(1, bin(table))], IO)?;
        Ok(r.field(0)
            .map(TVal::map)
            .unwrap_or_default()
            .iter()
            .map(|(_, d)| {
                let name = d.field(1).and_then(TVal::bin).unwrap_or_default();
                let name = name.strip_suffix(b":").unwrap_or(name).to_vec();
                (name, d.field(2).and_then(TVal::int).unwrap_or(1) as i32)
            })
            .collect())
    }

    /// Opens a scanner.
    pub fn scanner_open(&mut self, table: &[u8], s: &Scan) -> Result<i32, HbaseError> {
        let mut scan = Vec::new();
        if !s.start.is_empty() {
            scan.push((1, bin(&s.start)));
        }
        if !s.stop.is_empty() {
            scan.push((2, bin(&s.stop)));
        }
        if !s.columns.is_empty() {
            scan.push((
                4,
                TVal::List(TType::Binary, s.columns.iter().map(|c| bin(c)).collect()),
            ));
        }
        if s.caching > 0 {
            scan.push((5, TVal::I32(s.caching)));
        }
        if s.batch > 0 {
            scan.push((7, TVal::I32(s.batch)));
        }
        let r = self.call(
            "scannerOpenWithScan",
            table,
            &[
                (1, bin(table)),
                (2, TVal::Struct(scan)),
                (3, no_attributes()),
            ],
            IO,
        )?;
        r.field(0)
            .and_then(TVal::int)
            .map(|i| i as i32)
            .ok_or_else(|| HbaseError {
                call: "scannerOpenWithScan".into(),
                address: self.address.clone(),
                source: ThriftError::Protocol("no scanner id in the reply".into()),
            })
    }

    /// Up to `n` rows of scanner `id` (none: the scan is done).
    pub fn scanner_get_list(
        &mut self,
        table: &[u8],
        id: i32,
        n: i32,
    ) -> Result<Vec<Row>, HbaseError> {
        let r = self.call(
            "scannerGetList",
            table,
            &[(1, TVal::I32(id)), (2, TVal::I32(n))],
            IO_IA,
        )?;
        Ok(r.field(0)
            .map(TVal::list)
            .unwrap_or_default()
            .iter()
            .map(row_of)
            .collect())
    }

    /// Closes scanner `id`.
    pub fn scanner_close(&mut self, table: &[u8], id: i32) -> Result<(), HbaseError> {
        self.call("scannerClose", table, &[(1, TVal::I32(id))], IO_IA)
            .map(|_| ())
    }

    /// Up to `n` versions of one cell, newest first.
    pub fn versions(
        &mut self,
        table: &[u8],
        row: &[u8],
        column: &[u8],
        n: i32,
    ) -> Result<Vec<Cell>, HbaseError> {
        let r = self.call(
            "getVer",
            table,
            &[
                (1, bin(table)),
                (2, bin(row)),
                (3, bin(column)),
                (4, TVal::I32(n)),
                (5, no_attributes()),
            ],
            IO,
        )?;
        Ok(r.field(0)
            .map(TVal::list)
            .unwrap_or_default()
            .iter()
            .map(|c| Cell {
                column: column.to_vec(),
                value: c.field(1).and_then(TVal::bin).unwrap_or_default().to_vec(),
                timestamp: c.field(2).and_then(TVal::int).unwrap_or(0),
            })
            .collect())
    }

    /// Applies `rows` (row key, its mutations) in one call, at `ts` when given (else the
    /// server's time).
    pub fn mutate_rows(
        &mut self,
        table: &[u8],
        rows: &[(Vec<u8>, Vec<Mutation>)],
        ts: Option<i64>,
    ) -> Result<(), HbaseError> {
        let batches = TVal::List(
            TType::Struct,
            rows.iter()
                .map(|(key, muts)| {
                    TVal::Struct(vec![
                        (1, bin(key)),
                        (
                            2,
                            TVal::List(
                                TType::Struct,
                                muts.iter()
                                    .map(|m| {
                                        TVal::Struct(vec![
                                            (1, TVal::Bool(false)),
                                            (2, bin(&m.column)),
                                            (3, bin(&m.value)),
                                            (4, TVal::Bool(m.wal)),
                                        ])
                                    })
                                    .collect(),
                            ),
                        ),
                    ])
                })
                .collect(),
        );
        match ts {
            None => self.call(
                "mutateRows",
                table,
                &[(1, bin(table)), (2, batches), (3, no_attributes())],
                IO_IA,
            ),
            Some(ts) => self.call(
                "mutateRowsTs",
                table,
                &[
                    (1, bin(table)),
                    (2, batches),
                    (3, TVal::I64(ts)),
                    (4, no_attributes()),
                ],
                IO_IA,
            ),
        }
        .map(|_| ())
    }
}

/// A TRowResult: the key and its cells (from the sorted list when the gateway sends it, else
/// the map), in column order.
fn row_of(r: &TVal) -> Row {
    let key = r.field(1).and_then(TVal::bin).unwrap_or_default().to_vec();
    let cell = |column: &[u8], c: &TVal| Cell {
        column: column.to_vec(),
        value: c.field(1).and_then(TVal::bin).unwrap_or_default().to_vec(),
        timestamp: c.field(2).and_then(TVal::int).unwrap_or(0),
    };
    let mut cells: Vec<Cell> = match r.field(3) {
        Some(sorted) if !sorted.list().is_empty() => sorted
            .list()
            .iter()
            .filter_map(|tc| {
                let name = tc.field(1).and_then(TVal::bin)?;
                Some(cell(name, tc.field(2)?))
            })
            .collect(),
        _ => r
            .field(2)
            .map(TVal::map)
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, c)| Some(cell(k.bin()?, c)))
            .collect(),
    };
    cells.sort_by(|a, b| a.column.cmp(&b.column));
    Row { key, cells }
}

/// The keys every hbase plugin takes about where the gateway and the table are.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayKeys {
    /// host:port of the Thrift gateway.
    pub thrift_address: Option<String>,
    /// framed (default) or buffered.
    pub transport: Option<String>,
    /// binary (default) or compact.
    pub protocol: Option<String>,
    /// DataX's client settings (a ZooKeeper quorum): not used.
    pub hbase_config: Option<serde_json::Value>,
    /// The table.
    pub table: String,
    /// Text encoding of string cells (default UTF-8).
    pub encoding: Option<String>,
    /// DataX's mode.
    pub mode: Option<String>,
}

impl GatewayKeys {
    /// The gateway settings at `at` (`thriftAddress` required; a DataX template with only
    /// `hbaseConfig`, a ZooKeeper quorum, is told what to set instead), the table and the
    /// encoding. `verb` is "reads" or "writes", for the message.
    pub fn settings(
        &self,
        at: &str,
        verb: &str,
    ) -> Result<(HbaseConnConfig, &'static Encoding), datasync_engine::ConfigError> {
        use datasync_engine::config::join_path;
        use datasync_engine::ConfigError;
        let address = match &self.thrift_address {
            Some(a) => a,
            None if self.hbase_config.is_some() => {
                return Err(ConfigError::new(
                    join_path(at, "hbaseConfig"),
                    format!(
                        "datasync {verb} HBase through its Thrift gateway, not through ZooKeeper: \
                         set \"thriftAddress\" to host:port of the gateway (`hbase thrift \
                         start`, port 9090 by default), with \"transport\" (framed or buffered) \
                         and \"protocol\" (binary or compact) as the gateway runs; hbaseConfig \
                         can then go"
                    ),
                ))
            }
            None => {
                return Err(ConfigError::new(
                    join_path(at, "thriftAddress"),
                    "missing: host:port of the HBase Thrift gateway (`hbase thrift start`)",
                ))
            }
        };
        if self.hbase_config.is_some() {
            tracing::warn!(
                "{}: ignored: the Thrift gateway at thriftAddress is used",
                join_path(at, "hbaseConfig")
            );
        }
        let conn = parse_conn(
            address,
            self.transport.as_deref().unwrap_or("framed"),
            self.protocol.as_deref().unwrap_or("binary"),
        )
        .map_err(|(k, e)| ConfigError::new(join_path(at, k), e))?;
        if self.table.trim().is_empty() {
            return Err(ConfigError::new(
                join_path(at, "table"),
                "name the HBase table",
            ));
        }
        let enc = encoding(self.encoding.as_deref().unwrap_or("UTF-8"))
            .map_err(|e| ConfigError::new(join_path(at, "encoding"), e))?;
        Ok((conn, enc))
    }
}

/// Parses `host:port` and the `transport` / `protocol` names of a job.
pub fn parse_conn(
    address: &str,
    transport: &str,
    protocol: &str,
) -> Result<HbaseConnConfig, (&'static str, String)> {
    let (host, port) = address
        .rsplit_once(':')
        .filter(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
        .ok_or(("thriftAddress", format!("\"{address}\": expected host:port of the HBase Thrift gateway (hbase thrift start; default port 9090)")))?;
    let _ = (host, port);
    let transport = match transport.to_ascii_lowercase().as_str() {
        "framed" => Transport::Framed,
        "buffered" => Transport::Buffered,
        other => {
            return Err((
                "transport",
                format!(
                    "\"{other}\": expected framed or buffered (the gateway's -f/--framed flag)"
                ),
            ))
        }
    };
    let protocol = match protocol.to_ascii_lowercase().as_str() {
        "binary" => Protocol::Binary,
        "compact" => Protocol::Compact,
        other => {
            return Err((
                "protocol",
                format!(
                    "\"{other}\": expected binary or compact (the gateway's -c/--compact flag)"
                ),
            ))
        }
    };
    Ok(HbaseConnConfig {
        address: address.to_string(),
        transport,
        protocol,
        connect_timeout: std::time::Duration::from_secs(10),
        // A gateway that accepts and never answers fails a call within this.
        io_timeout: std::time::Duration::from_secs(120),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_level_errors() {
        let e = |m: &str| HbaseError {
            call: "mutateRows on t".into(),
            address: "h:1".into(),
            source: ThriftError::Declared {
                name: "IOError".into(),
                message: m.into(),
            },
        };
        assert!(e("org.apache.hadoop.hbase.TableNotFoundException: t").table_level());
        assert!(e("NoSuchColumnFamilyException: column x").table_level());
        assert!(!e("KeyValue size too large").table_level());
        assert!(!e("x").is_retriable());
    }

    #[test]
    fn connection_settings() {
        let c = parse_conn("127.0.0.1:9090", "framed", "compact").unwrap();
        assert_eq!(
            (c.transport, c.protocol),
            (Transport::Framed, Protocol::Compact)
        );
        assert_eq!(
            parse_conn("h:9090", "Buffered", "BINARY")
                .unwrap()
                .transport,
            Transport::Buffered
        );
        for (addr, transport, protocol, key) in [
            ("h", "framed", "binary", "thriftAddress"),
            (":9090", "framed", "binary", "thriftAddress"),
            ("h:x", "framed", "binary", "thriftAddress"),
            ("h:1", "http", "binary", "transport"),
            ("h:1", "framed", "json", "protocol"),
        ] {
            assert_eq!(
                parse_conn(addr, transport, protocol).unwrap_err().0,
                key,
                "{addr} {transport} {protocol}"
            );
        }
    }

    #[test]
    fn row_results_from_the_map_or_the_sorted_list() {
        let tcell = |v: &[u8], ts| TVal::Struct(vec![(1, bin(v)), (2, TVal::I64(ts))]);
        let by_map = TVal::Struct(vec![
            (1, bin(b"r1")),
            (
                2,
                TVal::Map(
                    TType::Binary,
                    TType::Struct,
                    vec![
                        (bin(b"cf:b"), tcell(b"2", 5)),
                        (bin(b"cf:a"), tcell(b"1", 4)),
                    ],
                ),
            ),
        ]);
        let r = row_of(&by_map);
        assert_eq!(r.key, b"r1");
        assert_eq!(r.cells[0].column, b"cf:a");
        assert_eq!(
            (r.cells[1].value.as_slice(), r.cells[1].timestamp),
            (&b"2"[..], 5)
        );
        let sorted = TVal::Struct(vec![
            (1, bin(b"r2")),
            (
                3,
                TVal::List(
                    TType::Struct,
                    vec![TVal::Struct(vec![(1, bin(b"cf:z")), (2, tcell(b"9", 1))])],
                ),
            ),
        ]);
        assert_eq!(row_of(&sorted).cells[0].value, b"9");
    }
}
