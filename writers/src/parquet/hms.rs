//! A minimal Hive Metastore client: Thrift binary protocol over a plain (unframed) TCP
//! socket, as the metastore serves it without SASL. Only the calls the writer needs:
//! `get_database`, `get_table`, `create_table` and `add_partitions_req` (if not exists).
//! Struct field ids follow `hive_metastore.thrift` (stable since Hive 0.x for these fields).

use super::thrift::*;
use std::io::{BufReader, BufWriter, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Errors talking to the metastore.
#[derive(Debug, thiserror::Error)]
pub enum HmsError {
    /// `hiveMetastoreUris` is not `thrift://host:port`.
    #[error("bad metastore URI \"{0}\": expected thrift://host:port")]
    BadUri(String),
    /// No URI could be reached.
    #[error("cannot connect to the Hive Metastore at {uri}")]
    Connect {
        /// The last URI tried.
        uri: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The socket failed mid-call.
    #[error("Hive Metastore call {call} failed")]
    Io {
        /// Thrift method.
        call: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The metastore answered with an exception.
    #[error("Hive Metastore {call}: {kind}: {message}")]
    Remote {
        /// Thrift method.
        call: &'static str,
        /// Exception type.
        kind: String,
        /// Its message.
        message: String,
    },
    /// The reply did not parse.
    #[error("Hive Metastore {call}: unexpected reply: {0}", call = .1)]
    Protocol(String, &'static str),
}

impl HmsError {
    /// Whether retrying may help (network trouble, not an answer).
    pub fn is_retriable(&self) -> bool {
        matches!(self, HmsError::Connect { .. } | HmsError::Io { .. })
    }
}

/// A connection to one metastore.
pub struct HmsClient {
    stream: TcpStream,
    seq: i32,
}

/// Parses `thrift://host:port` (the first of a comma-separated list that answers is used).
pub fn parse_uris(uris: &str) -> Result<Vec<(String, u16)>, HmsError> {
    uris.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            let rest = u
                .strip_prefix("thrift://")
                .ok_or_else(|| HmsError::BadUri(u.to_string()))?;
            let rest = rest.trim_end_matches('/');
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| HmsError::BadUri(u.to_string()))?;
            let port = port
                .parse::<u16>()
                .map_err(|_| HmsError::BadUri(u.to_string()))?;
            if host.is_empty() {
                return Err(HmsError::BadUri(u.to_string()));
            }
            Ok((host.trim_matches(['[', ']']).to_string(), port))
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|v| {
            if v.is_empty() {
                Err(HmsError::BadUri(uris.to_string()))
            } else {
                Ok(v)
            }
        })
}

impl HmsClient {
    /// Connects to the first metastore of `uris` that accepts a connection.
    pub fn connect(uris: &str, timeout: Duration) -> Result<Self, HmsError> {
        let mut last = None;
        for (host, port) in parse_uris(uris)? {
            let uri = format!("thrift://{host}:{port}");
            let addrs = match (host.as_str(), port).to_socket_addrs() {
                Ok(a) => a.collect::<Vec<_>>(),
                Err(source) => {
                    last = Some(HmsError::Connect { uri, source });
                    continue;
                }
            };
            for addr in addrs {
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        stream
                            .set_read_timeout(Some(Duration::from_secs(300)))
                            .and_then(|_| stream.set_write_timeout(Some(timeout)))
                            .map_err(|source| HmsError::Connect {
                                uri: uri.clone(),
                                source,
                            })?;
                        return Ok(HmsClient { stream, seq: 0 });
                    }
                    Err(source) => {
                        last = Some(HmsError::Connect {
                            uri: uri.clone(),
                            source,
                        })
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| HmsError::BadUri(uris.to_string())))
    }

    /// Calls `name` with `args` (the argument struct's fields) and returns the result struct.
    fn call(&mut self, name: &'static str, args: Vec<(i16, TValue)>) -> Result<TValue, HmsError> {
        self.seq = self.seq.wrapping_add(1);
        let io = |source| HmsError::Io { call: name, source };
        let mut msg = Vec::with_capacity(512);
        msg.extend_from_slice(&(VERSION_1 | CALL as u32).to_be_bytes());
        TValue::Str(name.as_bytes().to_vec()).encode(&mut msg);
        msg.extend_from_slice(&self.seq.to_be_bytes());
        TValue::Struct(args).encode(&mut msg);
        let mut w = BufWriter::new(&self.stream);
        w.write_all(&msg).map_err(io)?;
        w.flush().map_err(io)?;
        drop(w);
        let mut d = Decoder {
            r: BufReader::new(&self.stream),
            depth: 0,
        };
        let header = d.i32().map_err(io)? as u32;
        if header & 0xffff_0000 != VERSION_1 {
            return Err(HmsError::Protocol(
                format!("not a Thrift binary reply (header {header:#x})"),
                name,
            ));
        }
        let kind = (header & 0xff) as u8;
        let _name = d.string().map_err(io)?;
        let _seq = d.i32().map_err(io)?;
        let body = d.value(T_STRUCT).map_err(io)?;
        match kind {
            REPLY => Ok(body),
            EXCEPTION => Err(HmsError::Remote {
                call: name,
                kind: "TApplicationException".into(),
                message: body.field(1).and_then(TValue::as_str).unwrap_or_default(),
            }),
            other => Err(HmsError::Protocol(format!("message type {other}"), name)),
        }
    }

    /// The success value of a result struct, or its exception (named by `exceptions[id-1]`).
    fn result(
        call: &'static str,
        body: TValue,
        exceptions: &[&str],
    ) -> Result<Option<TValue>, HmsError> {
        // A result struct holds exactly one field: the success value (0) or an exception.
        let Some((id, v)) = (match body {
            TValue::Struct(fields) => fields.into_iter().next(),
            _ => None,
        }) else {
            return Ok(None);
        };
        if id == 0 {
            return Ok(Some(v));
        }
        let kind = usize::try_from(id - 1)
            .ok()
            .and_then(|i| exceptions.get(i))
            .map_or_else(|| format!("exception {id}"), |k| k.to_string());
        Err(HmsError::Remote {
            call,
            kind,
            message: v.field(1).and_then(TValue::as_str).unwrap_or_default(),
        })
    }

    /// Whether database `name` exists.
    pub fn database_exists(&mut self, name: &str) -> Result<bool, HmsError> {
        let body = self.call("get_database", vec![(1, s(name))])?;
        match Self::result(
            "get_database",
            body,
            &["NoSuchObjectException", "MetaException"],
        ) {
            Ok(_) => Ok(true),
            Err(HmsError::Remote { kind, .. }) if kind == "NoSuchObjectException" => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The table, or `None` if it does not exist.
    pub fn get_table(&mut self, db: &str, table: &str) -> Result<Option<TValue>, HmsError> {
        let body = self.call("get_table", vec![(1, s(db)), (2, s(table))])?;
        match Self::result(
            "get_table",
            body,
            &["MetaException", "NoSuchObjectException"],
        ) {
            Ok(t) => Ok(t),
            Err(HmsError::Remote { kind, .. }) if kind == "NoSuchObjectException" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a table; one that already exists (created concurrently) is not an error.
    pub fn create_table(&mut self, table: TValue) -> Result<(), HmsError> {
        let body = self.call("create_table", vec![(1, table)])?;
        match Self::result(
            "create_table",
            body,
            &[
                "AlreadyExistsException",
                "InvalidObjectException",
                "MetaException",
                "NoSuchObjectException",
            ],
        ) {
            Ok(_) => Ok(()),
            Err(HmsError::Remote { kind, .. }) if kind == "AlreadyExistsException" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Adds partitions, skipping those that exist.
    pub fn add_partitions(
        &mut self,
        db: &str,
        table: &str,
        parts: Vec<TValue>,
    ) -> Result<(), HmsError> {
        let req = TValue::Struct(vec![
            (1, s(db)),
            (2, s(table)),
            (3, struct_list(parts)),
            (4, TValue::Bool(true)),
            (5, TValue::Bool(false)),
        ]);
        let body = self.call("add_partitions_req", vec![(1, req)])?;
        Self::result(
            "add_partitions_req",
            body,
            &[
                "InvalidObjectException",
                "AlreadyExistsException",
                "MetaException",
            ],
        )?;
        Ok(())
    }
}

/// Names of a table's partition keys (`Table.partitionKeys`).
pub fn partition_key_names(table: &TValue) -> Vec<String> {
    table
        .field(8)
        .map(|l| {
            l.as_list()
                .iter()
                .filter_map(|f| f.field(1).and_then(TValue::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// `Table.sd.location`.
pub fn table_location(table: &TValue) -> Option<String> {
    table.field(7)?.field(2)?.as_str()
}

/// A `FieldSchema`.
pub fn field_schema(name: &str, hive_type: &str) -> TValue {
    TValue::Struct(vec![(1, s(name)), (2, s(hive_type)), (3, s(""))])
}

/// A Parquet `StorageDescriptor` at `location` with columns `cols`.
pub fn parquet_sd(cols: Vec<TValue>, location: &str) -> TValue {
    TValue::Struct(vec![
        (1, struct_list(cols)),
        (2, s(location)),
        (
            3,
            s("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"),
        ),
        (
            4,
            s("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"),
        ),
        (5, TValue::Bool(false)),
        (6, TValue::I32(-1)),
        (
            7,
            TValue::Struct(vec![
                (
                    2,
                    s("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
                ),
                (3, str_map([("serialization.format", "1")])),
            ]),
        ),
        (8, str_list([])),
        (9, struct_list(vec![])),
        (10, str_map([])),
    ])
}

/// An external Parquet `Table`.
pub fn external_table(
    db: &str,
    name: &str,
    owner: &str,
    sd: TValue,
    partition_keys: Vec<TValue>,
    now: i32,
) -> TValue {
    TValue::Struct(vec![
        (1, s(name)),
        (2, s(db)),
        (3, s(owner)),
        (4, TValue::I32(now)),
        (5, TValue::I32(0)),
        (6, TValue::I32(0)),
        (7, sd),
        (8, struct_list(partition_keys)),
        (9, str_map([("EXTERNAL", "TRUE")])),
        (12, s("EXTERNAL_TABLE")),
    ])
}

/// A `Partition` with `values` stored at `location`, columns as the table's.
pub fn partition(db: &str, table: &str, values: &[String], sd: TValue, now: i32) -> TValue {
    TValue::Struct(vec![
        (1, str_list(values.iter().map(String::as_str))),
        (2, s(db)),
        (3, s(table)),
        (4, TValue::I32(now)),
        (5, TValue::I32(0)),
        (6, sd),
        (7, str_map([])),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn values_round_trip_through_the_binary_protocol() {
        let v = external_table(
            "db",
            "t",
            "me",
            parquet_sd(vec![field_schema("id", "bigint")], "file:/x"),
            vec![field_schema("dt", "string")],
            7,
        );
        let mut buf = Vec::new();
        v.encode(&mut buf);
        let mut d = Decoder {
            r: &buf[..],
            depth: 0,
        };
        let back = d.value(T_STRUCT).unwrap();
        assert_eq!(back, v);
        assert_eq!(partition_key_names(&back), vec!["dt".to_string()]);
        assert_eq!(table_location(&back).as_deref(), Some("file:/x"));
    }

    #[test]
    fn uris() {
        assert_eq!(
            parse_uris("thrift://a:9083, thrift://b:1").unwrap(),
            vec![("a".to_string(), 9083), ("b".to_string(), 1)]
        );
        assert!(parse_uris("http://a:1").is_err());
        assert!(parse_uris("thrift://a").is_err());
        assert!(parse_uris("").is_err());
    }
}
