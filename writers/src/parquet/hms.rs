//! A minimal Hive Metastore client: Thrift binary protocol over a plain (unframed) TCP
//! socket, as the metastore serves it without SASL. Only the calls the writer needs:
//! `get_database`, `get_table`, `create_table` and `add_partitions_req` (if not exists).
//! Struct field ids follow `hive_metastore.thrift` (stable since Hive 0.x for these fields).

use datasync_db::thrift::{Connection, Protocol, TType, TVal, ThriftError, Transport};
use std::time::Duration;

/// A string value.
pub fn s(v: &str) -> TVal {
    TVal::str(v)
}

/// A list of strings.
pub fn str_list<'a>(v: impl IntoIterator<Item = &'a str>) -> TVal {
    TVal::List(TType::Binary, v.into_iter().map(s).collect())
}

/// A list of structs.
pub fn struct_list(v: Vec<TVal>) -> TVal {
    TVal::List(TType::Struct, v)
}

/// A `map<string,string>`.
pub fn str_map<'a>(v: impl IntoIterator<Item = (&'a str, &'a str)>) -> TVal {
    TVal::Map(
        TType::Binary,
        TType::Binary,
        v.into_iter().map(|(k, x)| (s(k), s(x))).collect(),
    )
}

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
    conn: Connection,
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
            let addr = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            // The metastore answers slow calls (a big add_partitions) within minutes.
            match Connection::connect(
                &addr,
                Protocol::Binary,
                Transport::Buffered,
                timeout,
                Duration::from_secs(300),
            ) {
                Ok(conn) => return Ok(HmsClient { conn }),
                Err(e) => {
                    last = Some(HmsError::Connect {
                        uri,
                        source: match e {
                            ThriftError::Io(io) => io,
                            other => std::io::Error::other(other.to_string()),
                        },
                    })
                }
            }
        }
        Err(last.unwrap_or_else(|| HmsError::BadUri(uris.to_string())))
    }

    /// Calls `name` with `args`; its success value (`None` for a void call), or its declared
    /// exception (named by `exceptions[id - 1]`) as [`HmsError::Remote`].
    fn call(
        &mut self,
        name: &'static str,
        args: Vec<(i16, TVal)>,
        exceptions: &[&str],
    ) -> Result<Option<TVal>, HmsError> {
        match self.conn.call(name, &args, exceptions) {
            Ok(body) => Ok(body.field(0).cloned()),
            Err(ThriftError::Io(source)) => Err(HmsError::Io { call: name, source }),
            Err(ThriftError::Protocol(p)) => Err(HmsError::Protocol(p, name)),
            Err(ThriftError::Declared {
                name: kind,
                message,
            }) => Err(HmsError::Remote {
                call: name,
                kind,
                message,
            }),
            Err(ThriftError::Application(message)) => Err(HmsError::Remote {
                call: name,
                kind: "TApplicationException".into(),
                message,
            }),
        }
    }

    /// Whether database `name` exists.
    pub fn database_exists(&mut self, name: &str) -> Result<bool, HmsError> {
        match self.call(
            "get_database",
            vec![(1, s(name))],
            &["NoSuchObjectException", "MetaException"],
        ) {
            Ok(_) => Ok(true),
            Err(HmsError::Remote { kind, .. }) if kind == "NoSuchObjectException" => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The table, or `None` if it does not exist.
    pub fn get_table(&mut self, db: &str, table: &str) -> Result<Option<TVal>, HmsError> {
        match self.call(
            "get_table",
            vec![(1, s(db)), (2, s(table))],
            &["MetaException", "NoSuchObjectException"],
        ) {
            Ok(t) => Ok(t),
            Err(HmsError::Remote { kind, .. }) if kind == "NoSuchObjectException" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a table; one that already exists (created concurrently) is not an error.
    pub fn create_table(&mut self, table: TVal) -> Result<(), HmsError> {
        match self.call(
            "create_table",
            vec![(1, table)],
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
        parts: Vec<TVal>,
    ) -> Result<(), HmsError> {
        let req = TVal::Struct(vec![
            (1, s(db)),
            (2, s(table)),
            (3, struct_list(parts)),
            (4, TVal::Bool(true)),
            (5, TVal::Bool(false)),
        ]);
        self.call(
            "add_partitions_req",
            vec![(1, req)],
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
pub fn partition_key_names(table: &TVal) -> Vec<String> {
    table
        .field(8)
        .map(|l| {
            l.list()
                .iter()
                .filter_map(|f| f.field(1).and_then(TVal::text))
                .collect()
        })
        .unwrap_or_default()
}

/// `Table.sd.location`.
pub fn table_location(table: &TVal) -> Option<String> {
    table.field(7)?.field(2)?.text()
}

/// A `FieldSchema`.
pub fn field_schema(name: &str, hive_type: &str) -> TVal {
    TVal::Struct(vec![(1, s(name)), (2, s(hive_type)), (3, s(""))])
}

/// A Parquet `StorageDescriptor` at `location` with columns `cols`.
/// A `StorageDescriptor` of `format` files (Parquet or ORC) at `location`.
pub fn storage(cols: Vec<TVal>, location: &str, format: super::config::DataFormat) -> TVal {
    let (input, output, serde) = match format {
        super::config::DataFormat::Parquet => (
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        ),
        super::config::DataFormat::Orc => (
            "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
            "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
            "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
        ),
    };
    TVal::Struct(vec![
        (1, struct_list(cols)),
        (2, s(location)),
        (3, s(input)),
        (4, s(output)),
        (5, TVal::Bool(false)),
        (6, TVal::I32(-1)),
        (
            7,
            TVal::Struct(vec![
                (2, s(serde)),
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
    sd: TVal,
    partition_keys: Vec<TVal>,
    now: i32,
) -> TVal {
    TVal::Struct(vec![
        (1, s(name)),
        (2, s(db)),
        (3, s(owner)),
        (4, TVal::I32(now)),
        (5, TVal::I32(0)),
        (6, TVal::I32(0)),
        (7, sd),
        (8, struct_list(partition_keys)),
        (9, str_map([("EXTERNAL", "TRUE")])),
        (12, s("EXTERNAL_TABLE")),
    ])
}

/// A `Partition` with `values` stored at `location`, columns as the table's.
pub fn partition(db: &str, table: &str, values: &[String], sd: TVal, now: i32) -> TVal {
    TVal::Struct(vec![
        (1, str_list(values.iter().map(String::as_str))),
        (2, s(db)),
        (3, s(table)),
        (4, TVal::I32(now)),
        (5, TVal::I32(0)),
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
            storage(
                vec![field_schema("id", "bigint")],
                "file:/x",
                super::super::config::DataFormat::Parquet,
            ),
            vec![field_schema("dt", "string")],
            7,
        );
        let msg = datasync_db::thrift::encode_call(Protocol::Binary, "t", 1, &[(1, v.clone())]);
        let d = datasync_db::thrift::decode_message(Protocol::Binary, &mut msg.as_slice()).unwrap();
        let back = d.body.field(1).cloned().unwrap();
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
