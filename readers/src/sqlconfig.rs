//! Parameters of the SQL readers (MySQL, PostgreSQL), as DataX's mysqlreader and
//! postgresqlreader spell them (the same shape).

use datasync_db::sql::SqlSplit;
use datasync_engine::config::one_or_many;
use datasync_engine::Secret;
use serde::Deserialize;

/// `parameter` of a SQL reader.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SqlReaderConfig {
    /// User name (OceanBase: `user@tenant#cluster`).
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: Secret,
    /// Columns: names, `*`, or SQL expressions, passed to SELECT as written. Required with `table`.
    #[serde(default)]
    pub column: Vec<String>,
    /// Where to read.
    pub connection: Vec<ReaderConnection>,
    /// Filter added to every table read (raw SQL, as DataX).
    #[serde(default, rename = "where")]
    pub where_clause: Option<String>,
    /// Column to split each table on: an integer key (MIN/MAX ranges) or a text key (ranges
    /// cut at quantiles the server computes in the column's collation).
    pub split_pk: Option<String>,
    /// Accepted for DataX templates; rows are always streamed.
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<i64>")]
    pub fetch_size: Option<i64>,
    /// Statements run on each new connection.
    #[serde(default)]
    pub session: Vec<String>,
    /// Read only the rows whose `column` is above the last committed watermark (kept in
    /// `state`) and at or below the high-water mark read when the run begins; tables only.
    pub incremental: Option<datasync_engine::incremental::IncrementalConfig>,
}

/// One `connection[]` entry.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReaderConnection {
    /// URLs tried in order until one connects.
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "datasync_engine::schema::OneOrMany")]
    pub jdbc_url: Vec<String>,
    /// Tables read fully (or by splitPk ranges); DataX's `"a,b"` lists and `t_[0-63]` ranges
    /// are expanded.
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(with = "datasync_engine::schema::OneOrMany")]
    pub table: Vec<String>,
    /// Queries run as written (instead of `table`).
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(with = "datasync_engine::schema::OneOrMany")]
    pub query_sql: Vec<String>,
}

impl SqlReaderConfig {
    /// Folds the names DataX hands to the server unquoted (tables, `splitPk`, the incremental
    /// column) as server `d` folds them ([`datasync_db::sql::fold_unquoted`]). Column entries
    /// are SQL expressions and go to the server as written anyway.
    pub fn fold_names(&mut self, d: datasync_db::sql::Dialect) {
        let fold = |n: &mut String| *n = datasync_db::sql::fold_unquoted(d, n);
        for c in &mut self.connection {
            c.table.iter_mut().for_each(fold);
        }
        self.split_pk.iter_mut().for_each(fold);
        if let Some(inc) = &mut self.incremental {
            fold(&mut inc.column);
        }
    }

    /// Parses `parameter` at `p.path` and checks its shape the same way for every SQL reader;
    /// `connect` turns each `connection[]` entry (and its path) into the driver's settings.
    pub fn parse<C>(
        p: datasync_engine::Params<'_>,
        ignored: &[(&'static str, &str)],
        connect: datasync_db::sql::ConnFromParams<C>,
    ) -> Result<(Self, Vec<C>), datasync_engine::ConfigError> {
        use datasync_engine::config::join_path;
        use datasync_engine::ConfigError;
        let (mut cfg,): (Self,) = p.parts(ignored)?;
        let conn_at = join_path(p.path, "connection");
        if cfg.connection.is_empty() {
            return Err(ConfigError::new(conn_at, "needs at least one entry"));
        }
        // DataX's table lists: "a,b" and ranges such as order_[0-63].
        for (i, c) in cfg.connection.iter_mut().enumerate() {
            if !c.query_sql.is_empty() && !c.table.is_empty() {
                // As DataX: the query says what is read; the table names nothing then.
                tracing::warn!(
                    "{conn_at}[{i}]: \"table\" is ignored because \"querySql\" is set (the \
                     query alone says what is read, as in DataX)"
                );
                c.table.clear();
            }
            c.table = datasync_db::sql::expand_tables(&c.table)
                .map_err(|e| ConfigError::new(format!("{conn_at}[{i}].table"), e))?;
        }
        let mut conns = Vec::with_capacity(cfg.connection.len());
        for (i, c) in cfg.connection.iter().enumerate() {
            let at = format!("{conn_at}[{i}]");
            match (c.table.is_empty(), c.query_sql.is_empty()) {
                (true, true) => return Err(ConfigError::new(at, "needs \"table\" or \"querySql\"")),
                (false, true) if cfg.column.is_empty() => {
                    return Err(ConfigError::new(
                        join_path(p.path, "column"),
                        "missing required key \"column\" (names, expressions, or [\"*\"]) when reading tables",
                    ))
                }
                _ => {}
            }
            let set = |v: &Option<String>| v.as_deref().is_some_and(|w| !w.trim().is_empty());
            // A filter the query would not apply changes what is read: refused. A split key
            // only changes how it is read: ignored, as DataX does.
            if !c.query_sql.is_empty() && cfg.incremental.is_some() {
                return Err(ConfigError::new(
                    join_path(p.path, "incremental"),
                    "applies to table reads, not querySql (read the table with column and \
                     where instead)",
                ));
            }
            if !c.query_sql.is_empty() && set(&cfg.where_clause) {
                return Err(ConfigError::new(
                    at,
                    "\"where\" does not apply to querySql; put the filter in the query",
                ));
            }
            if !c.query_sql.is_empty() {
                let beside: Vec<&str> = [
                    cfg.split_pk.is_some().then_some("\"splitPk\""),
                    cfg.where_clause.is_some().then_some("an empty \"where\""),
                ]
                .into_iter()
                .flatten()
                .collect();
                if !beside.is_empty() {
                    tracing::warn!(
                        "{at}: {} beside querySql {} ignored (a query is read whole, in one task)",
                        beside.join(" and "),
                        if beside.len() > 1 { "are" } else { "is" }
                    );
                }
            }
            conns.push(connect(datasync_db::sql::ConnKeys {
                urls: &c.jdbc_url,
                username: &cfg.username,
                password: &cfg.password,
                session: &cfg.session,
                at: &format!("{at}.jdbcUrl"),
            })?);
        }
        if let Some(w) = &cfg.where_clause {
            datasync_db::sql::balanced_fragment(w)
                .map_err(|e| ConfigError::new(join_path(p.path, "where"), e))?;
        }
        Ok((cfg, conns))
    }

    /// The splits that need no database, and the (connection, table, splitPk) whose key
    /// ranges the reader must plan.
    pub fn plan(&self) -> (Vec<SqlSplit>, Vec<(usize, String, String)>) {
        let mut splits = Vec::new();
        let mut keyed = Vec::new();
        for (i, c) in self.connection.iter().enumerate() {
            // A trailing `;` (as pasted from a SQL console) would break PostgreSQL's COPY (...)
            // and MySQL's wrapping alike.
            splits.extend(c.query_sql.iter().map(|q| SqlSplit::Query {
                conn: i,
                sql: q.trim_end().trim_end_matches(';').trim_end().to_string(),
            }));
            for t in &c.table {
                match self.split_pk.as_deref().filter(|pk| !pk.trim().is_empty()) {
                    Some(pk) => keyed.push((i, t.clone(), pk.to_string())),
                    None => splits.push(SqlSplit::Table {
                        conn: i,
                        table: t.clone(),
                        range: None,
                        text_range: None,
                        null_keys: false,
                    }),
                }
            }
        }
        (splits, keyed)
    }

    /// ` WHERE (where)` when a filter is set.
    pub fn where_sql(&self) -> String {
        self.where_clause
            .as_deref()
            .filter(|w| !w.trim().is_empty())
            .map(|w| format!(" WHERE ({w})"))
            .unwrap_or_default()
    }
}

/// Parses MIN/MAX of a key, read as text, into bounds (`None` for an empty table).
pub fn parse_bounds(lo: Option<String>, hi: Option<String>) -> Option<(i128, i128)> {
    Some((lo?.trim().parse().ok()?, hi?.trim().parse().ok()?))
}

/// `datasync template`'s parameters of a SQL reader: placeholders named `<prefix>_user`, ...
pub(crate) fn sql_reader_template(prefix: &str, url: &str) -> serde_json::Value {
    serde_json::json!({
        "username": format!("${{{prefix}_user}}"),
        "password": format!("${{{prefix}_password}}"),
        "column": ["id", "name", "amount", "created"],
        "splitPk": "id",
        "where": "",
        "session": [],
        "fetchSize": 1024,
        "connection": [{"jdbcUrl": [url], "table": [format!("${{{prefix}_table}}")]}]
    })
}

/// `datasync template` comments of the SQL readers' parameters.
pub(crate) fn sql_reader_notes() -> Vec<datasync_engine::template::TemplateNote> {
    use datasync_engine::template::{alt, note};
    vec![
        note("username", "Login user."),
        note("password", "Password; use ${env:NAME} or ${file:PATH} to keep it off the command line. Never printed."),
        note("column", "Column names, [\"*\"] or SQL expressions, passed to SELECT as written."),
        note("splitPk", "Integer or text column to split each table into `channel` key ranges (plus a NULL-key task); empty: one task per table."),
        note("where", "Filter appended to every generated SELECT (incremental loads); empty: all rows."),
        note("session", "Statements run on every new connection; default none."),
        note("fetchSize", "Accepted for DataX templates; rows always stream."),
        note("connection", "One entry per database (shard): jdbcUrl and table, or querySql."),
        note("connection[].jdbcUrl", "One URL or a list tried in order; connectTimeout, TLS and user=/password= in the query are honoured."),
        note("connection[].table", "Tables, each read whole (or split on splitPk); DataX lists \"a,b\" and ranges order_[0-63] expand; one connection entry per shard database."),
        alt("connection[].querySql", "[\"SELECT id, name FROM t WHERE id > 10\"]", "Instead of table/column/where: queries run as written (one task each)."),
        alt("incremental", "{\"column\": \"updated_at\", \"state\": \"file:state/orders.json\"}", "Read only rows whose column is above the last committed watermark (kept in state: file:PATH or table:[schema.]NAME in the source database; moved after a successful commit); tables only; `datasync run --full` reads all, `datasync state` shows/sets/resets it."),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<SqlReaderConfig, datasync_engine::ConfigError> {
        SqlReaderConfig::parse(
            datasync_engine::Params::new(&v, "r", "mysqlreader"),
            &[],
            |_| Ok(()),
        )
        .map(|(c, _)| c)
    }

    #[test]
    fn datax_template_shapes() {
        // Generated templates carry empty where/splitPk beside querySql, quoted numbers and a
        // trailing semicolon.
        let c = parse(
            json!({"username": "u", "where": "", "splitPk": " ", "fetchSize": "2048",
            "connection": [{"jdbcUrl": "jdbc:mysql://h/d", "querySql": ["SELECT 1 ;  "]}]}),
        )
        .unwrap();
        assert_eq!(c.fetch_size, Some(2048));
        let (splits, _) = c.plan();
        assert_eq!(
            splits[0],
            SqlSplit::Query {
                conn: 0,
                sql: "SELECT 1".into()
            }
        );
        let e = parse(json!({"username": "u", "where": "x > 1",
            "connection": [{"jdbcUrl": "jdbc:mysql://h/d", "querySql": ["SELECT 1"]}]}))
        .unwrap_err();
        assert!(e.message.contains("does not apply to querySql"), "{e}");
        // DataX ignores table (and a split key) beside querySql: so do we, with a warning.
        let c = parse(json!({"username": "u", "splitPk": "id", "column": ["id"],
            "connection": [{"jdbcUrl": "jdbc:mysql://h/d", "table": ["t"], "querySql": ["SELECT 2"]}]}))
        .unwrap();
        let (splits, keyed) = c.plan();
        assert!(keyed.is_empty());
        assert_eq!(
            splits,
            [SqlSplit::Query {
                conn: 0,
                sql: "SELECT 2".into()
            }]
        );
        let c = parse(json!({"username": "u", "column": ["*"],
            "connection": [{"jdbcUrl": "jdbc:mysql://h/d", "table": ["a, t_[1-2]"]}]}))
        .unwrap();
        assert_eq!(c.connection[0].table, ["a", "t_1", "t_2"]);
    }
}
