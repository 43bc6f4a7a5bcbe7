//! The reader every SQL system shares: the job's parameters, one connection setting per
//! `connection[]`, and the system's own settings. A system implements [`SqlSource`] (how
//! to log in for planning, how a planned split becomes its task, how its tables are named
//! for lineage); the [`Reader`] contract (check --connect, split planning, shard plans) is
//! implemented here once.

use crate::sqlconfig::SqlReaderConfig;
use crate::sqlsplit::{plan_reads, probe_connections, KeyProbe, Planned};
use datasync_db::sql::SqlSplit;
use datasync_db::sql::{quote_ident, Dialect};
use datasync_engine::incremental::{Incremental, Low, StateTable};
use datasync_engine::lineage::Dataset;
use datasync_engine::{async_trait, PluginError, Reader, ReaderTask};
use std::sync::Arc;

/// A SQL reader: shared parameters, connection settings `C`, and the system's own `X`.
pub struct SqlReader<C, X = ()> {
    pub(crate) cfg: Arc<SqlReaderConfig>,
    pub(crate) conns: Arc<Vec<C>>,
    pub(crate) own: Arc<X>,
    /// `incremental`: the watermark and this run's window.
    incremental: Option<Arc<Incremental>>,
}

/// A reader of `cfg` (at JSON path `at`) over `conns` (one per `connection[]`), with the
/// system's own settings `own`.
pub(crate) fn build<C, X>(
    at: &str,
    cfg: SqlReaderConfig,
    conns: Vec<C>,
    own: X,
) -> Result<SqlReader<C, X>, datasync_engine::ConfigError>
where
    C: Send + Sync + 'static,
    X: Send + Sync + 'static,
    SqlReader<C, X>: SqlSource,
{
    let mut reader = SqlReader {
        cfg: Arc::new(cfg),
        conns: Arc::new(conns),
        own: Arc::new(own),
        incremental: None,
    };
    if let Some(i) = &reader.cfg.incremental {
        let sources: Vec<String> = sources(&reader).into_iter().map(|(_, _, s)| s).collect();
        let at = datasync_engine::config::join_path(at, "incremental");
        let mut inc = Incremental::new(i, &at, &sources, &key_parts(&reader))?;
        inc.attach_table(Arc::new(TableState {
            reader: reader.clone(),
        }));
        reader.incremental = Some(Arc::new(inc));
    }
    Ok(reader)
}

impl<C, X> SqlReader<C, X> {
    /// This reader with `filter` added to its `where` (an incremental run's window).
    fn with_filter(&self, filter: &str) -> Self {
        let mut cfg = (*self.cfg).clone();
        cfg.where_clause = Some(
            match cfg.where_clause.as_deref().filter(|w| !w.trim().is_empty()) {
                Some(w) => format!("({w}) AND {filter}"),
                None => filter.to_string(),
            },
        );
        SqlReader {
            cfg: Arc::new(cfg),
            ..self.clone()
        }
    }
}

impl<C, X> Clone for SqlReader<C, X> {
    fn clone(&self) -> Self {
        SqlReader {
            cfg: self.cfg.clone(),
            conns: self.conns.clone(),
            own: self.own.clone(),
            incremental: self.incremental.clone(),
        }
    }
}

impl<C, X> std::fmt::Debug for SqlReader<C, X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlReader")
            .field("connections", &self.conns.len())
            .finish_non_exhaustive()
    }
}

/// What one SQL system adds to [`SqlReader`].
#[async_trait]
pub(crate) trait SqlSource: Send + Sync {
    /// The system's answers to split planning.
    type Probe: KeyProbe;
    /// How this system's SQL is spelled.
    const DIALECT: Dialect;
    /// Logs in on `connection[i]` for planning: the probe and the server's URL (no secret).
    async fn open_probe(&self, i: usize) -> Result<(Self::Probe, String), PluginError>;
    /// The task that reads one planned split.
    fn task(&self, plan: Planned) -> Box<dyn ReaderTask>;
    /// Table `table` of `connection[i]` as a lineage dataset.
    fn dataset(&self, i: usize, table: &str) -> Dataset;
    /// Refines the planned reads (e.g. Oracle's ROWID ranges); as planned by default.
    async fn refine(
        &self,
        planned: Vec<Planned>,
        channels: usize,
    ) -> Result<Vec<Planned>, PluginError> {
        let _ = channels;
        Ok(planned)
    }
}

#[async_trait]
impl<C, X> Reader for SqlReader<C, X>
where
    C: Send + Sync,
    X: Send + Sync,
    SqlReader<C, X>: SqlSource,
{
    fn datasets(&self) -> Vec<Dataset> {
        let mut out = Vec::new();
        for (i, c) in self.cfg.connection.iter().enumerate() {
            out.extend(c.table.iter().map(|t| self.dataset(i, t)));
        }
        out
    }

    fn column_count(&self) -> Option<usize> {
        // Table reads of a list of entries, each one column (an entry with a comma may be
        // several: `a, b`, or a function's arguments: not counted).
        let cfg = &self.cfg;
        let counted = cfg.column != ["*"]
            && cfg.connection.iter().all(|c| c.query_sql.is_empty())
            && !cfg.column.iter().any(|c| c.contains(','));
        counted.then_some(cfg.column.len())
    }

    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        let n = self.conns.len();
        Ok(probe_connections(&self.cfg, Self::DIALECT, n, |i| self.open_probe(i)).await)
    }

    fn incremental(&self) -> Option<&Incremental> {
        self.incremental.as_deref()
    }

    async fn split(&self, channels: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError> {
        let filters = match &self.incremental {
            Some(inc) => Some(windows(self, inc).await?),
            None => None,
        };
        let mut planned = plan_reads(&self.cfg, channels, |i| async move {
            Ok(self.open_probe(i).await?.0)
        })
        .await?;
        // Each table's window goes with its splits (ROWID ranges made from them keep it).
        if let Some(f) = &filters {
            for p in &mut planned {
                if let SqlSplit::Table { conn, table, .. } = &p.split {
                    p.filter = f.get(&(*conn, table.clone())).cloned();
                }
            }
        }
        let planned = self.refine(planned, channels).await?;
        Ok(planned
            .into_iter()
            .map(|p| match p.filter.clone() {
                Some(f) => self.with_filter(&f).task(p),
                None => self.task(p),
            })
            .collect())
    }

    fn task_from_plan(
        &self,
        planned: &serde_json::Value,
    ) -> Result<Box<dyn ReaderTask>, PluginError> {
        datasync_engine::plugin::task_from(planned, |p: Planned| match p.filter.clone() {
            Some(f) => self.with_filter(&f).task(p),
            None => self.task(p),
        })
    }
}

/// The tables an incremental reader reads: (connection, table, source name). A table's name
/// is its source name when the job reads one connection; with several, the table's dataset
/// (server, database and table: a reordered connection list keeps each table's mark).
fn sources<C, X>(reader: &SqlReader<C, X>) -> Vec<(usize, String, String)>
where
    SqlReader<C, X>: SqlSource,
{
    let many = reader.cfg.connection.len() > 1;
    let mut out = Vec::new();
    for (i, c) in reader.cfg.connection.iter().enumerate() {
        for t in &c.table {
            let name = if many {
                let d = reader.dataset(i, t);
                format!("{}/{}", d.namespace, d.name)
            } else {
                t.clone()
            };
            out.push((i, t.clone(), name));
        }
    }
    out
}

/// The datasets (server, database, table) an incremental reader reads: the default key of
/// its row in a state table, so jobs reading other databases never share one.
fn key_parts<C, X>(reader: &SqlReader<C, X>) -> Vec<String>
where
    SqlReader<C, X>: SqlSource,
{
    let mut out = Vec::new();
    for (i, c) in reader.cfg.connection.iter().enumerate() {
        for t in &c.table {
            let d = reader.dataset(i, t);
            out.push(format!("{}/{}", d.namespace, d.name));
        }
    }
    out
}

/// A watermark as an SQL literal: in a numeric column a plain number as a number (compared
/// exactly, as a DECIMAL or integer literal), anything else as a string the server converts
/// to the column's type (a text column's digits stay text: "9" is above "10").
fn watermark_literal(d: Dialect, v: &str, numeric_column: bool) -> String {
    let t = v.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    let numeric = !digits.is_empty()
        && digits.split('.').count() <= 2
        && digits
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if numeric && numeric_column {
        t.to_string()
    } else {
        datasync_db::sql::literal(d, v)
    }
}

/// This run's window of each table of an incremental read, as a filter per (connection,
/// table): above the table's committed watermark (or at it, `inclusive`) and at or below its
/// high-water mark read now (`MAX` under the job's `where`, compared by the server, so numbers,
/// collations and time zones order as the database orders them). A first or `--full` run also
/// reads the rows whose column is NULL. The marks are recorded for the commit.
async fn windows<C, X>(
    reader: &SqlReader<C, X>,
    inc: &Incremental,
) -> Result<std::collections::HashMap<(usize, String), String>, PluginError>
where
    SqlReader<C, X>: SqlSource,
{
    let d = <SqlReader<C, X> as SqlSource>::DIALECT;
    let col = quote_ident(d, &inc.column);
    let mut out = std::collections::HashMap::new();
    let mut probes = std::collections::HashMap::new();
    // The state is read once for every table (a state table: one connection, not one each).
    let mut lows = inc.lows().await.map_err(PluginError::new)?;
    for (i, t, source) in sources(reader) {
        if let std::collections::hash_map::Entry::Vacant(e) = probes.entry(i) {
            e.insert(reader.open_probe(i).await?.0);
        }
        let Some(probe) = probes.get_mut(&i) else {
            continue;
        };
        let (type_name, integer) = probe.key_type(&t, &inc.column).await?;
        let lower = type_name.to_ascii_lowercase();
        let numeric = integer
            || ["decimal", "numeric", "number", "int"]
                .iter()
                .any(|n| lower.contains(n));
        let lit = |v: &str| watermark_literal(d, v, numeric);
        if ["float", "double", "real", "binary_"]
            .iter()
            .any(|f| lower.contains(f))
        {
            return Err(PluginError::new(format!(
                "incremental column {} of {t} is {type_name}: a floating-point value read back \
                 as text does not compare equal to itself, so rows could be skipped; use an \
                 integer, decimal, date or time column",
                inc.column
            )));
        }
        let inclusive = match inc.inclusive {
            Some(b) => b,
            None => {
                let (schema, name) = datasync_db::sql::schema_and_name(&t);
                !matches!(
                    probe
                        .key_indexed(schema.as_deref(), &name, &inc.column)
                        .await,
                    Ok(Some(true))
                )
            }
        };
        let low = lows.remove(&source).unwrap_or(Low::First);
        let above = match &low {
            Low::Above(l) => format!(" AND {col} > {}", lit(l)),
            _ => String::new(),
        };
        let where_sql = match reader.cfg.where_sql() {
            w if w.is_empty() => " WHERE 1 = 1".to_string(),
            w => w,
        };
        let q = format!(
            "SELECT {} FROM {}{where_sql}{above}",
            d.text_of(&format!("MAX({col})")),
            quote_ident(d, &t),
        );
        // Rows deleted since the last run never move the watermark back: no new maximum
        // keeps the committed one.
        let new_max = probe.texts(&q).await?.into_iter().next();
        if let Some(v) = &new_max {
            let l = v.trim().to_ascii_lowercase();
            if ["nan", "infinity", "-infinity", "+infinity", "inf", "-inf"].contains(&l.as_str()) {
                return Err(PluginError::new(format!(
                    "incremental column {} of {t} holds {v}: nothing compares above it, so later \
                     rows would never be read; remove or exclude it (where) first",
                    inc.column
                )));
            }
        }
        let high = match (&low, new_max) {
            (_, Some(h)) => Some(h),
            (Low::Above(l), None) => Some(l.clone()),
            (_, None) => None,
        };
        inc.begin(&source, high.clone());
        let op = if inclusive { ">=" } else { ">" };
        let filter = match (&low, &high) {
            (Low::First, None) => format!("{col} IS NULL"),
            (Low::First, Some(h)) => format!("({col} <= {} OR {col} IS NULL)", lit(h)),
            (Low::Nulls, Some(h)) => format!("{col} <= {}", lit(h)),
            (Low::Above(l), Some(h)) => {
                format!("{col} {op} {} AND {col} <= {}", lit(l), lit(h))
            }
            (_, None) => "1 = 0".to_string(),
        };
        let why_inclusive = match inc.inclusive {
            Some(true) => " (inclusive: rows equal to the watermark are read again)",
            Some(false) | None if !inclusive => "",
            _ => " (rows equal to the watermark are read again: the column has no unique index of its own)",
        };
        match (&low, &high) {
            (Low::First, _) => tracing::info!(
                "incremental on {source}.{}: {}: reading every row up to {}",
                inc.column,
                if inc.is_full() {
                    "--full"
                } else {
                    "no committed watermark"
                },
                high.as_deref().unwrap_or("(none)")
            ),
            (_, Some(h)) => tracing::info!(
                "incremental on {source}.{}: reading {} {} up to {h}{why_inclusive}",
                inc.column,
                if inclusive { "from" } else { "above" },
                match &low {
                    Low::Above(l) => l.as_str(),
                    _ => "the first value",
                }
            ),
            (_, None) => {}
        }
        out.insert((i, t), filter);
    }
    Ok(out)
}

/// An incremental state table in the reader's database (`connection[0]`): one row per key,
/// the watermark as JSON text; made when missing.
struct TableState<C, X> {
    reader: SqlReader<C, X>,
}

impl<C, X> std::fmt::Debug for TableState<C, X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.reader.fmt(f)
    }
}

impl<C, X> TableState<C, X>
where
    SqlReader<C, X>: SqlSource,
{
    async fn probe(&self) -> Result<<SqlReader<C, X> as SqlSource>::Probe, String> {
        Ok(self.reader.open_probe(0).await.map_err(|e| e.chain())?.0)
    }

    /// Runs `statements` in one transaction.
    async fn transaction(&self, statements: &[String]) -> Result<(), String> {
        let d = <SqlReader<C, X> as SqlSource>::DIALECT;
        let mut p = self.probe().await?;
        let begin = match d {
            Dialect::MySql => Some("START TRANSACTION"),
            Dialect::Postgres => Some("BEGIN"),
            _ => None,
        };
        for s in begin
            .into_iter()
            .map(String::from)
            .chain(statements.iter().cloned())
        {
            p.exec(&s).await.map_err(|e| e.chain())?;
        }
        p.exec("COMMIT").await.map_err(|e| e.chain())
    }
}

#[async_trait]
impl<C, X> StateTable for TableState<C, X>
where
    C: Send + Sync,
    X: Send + Sync,
    SqlReader<C, X>: SqlSource,
{
    async fn get(&self, table: &str, key: &str) -> Result<Option<String>, String> {
        let d = <SqlReader<C, X> as SqlSource>::DIALECT;
        let t = quote_ident(d, table);
        let mut p = self.probe().await?;
        let q = format!(
            "SELECT state FROM {t} WHERE state_key = {}",
            datasync_db::sql::literal(d, key)
        );
        match p.texts(&q).await {
            Ok(v) => Ok(v.into_iter().next()),
            Err(first) => {
                // A table that is not there yet is made (and holds nothing).
                // Keys compare exactly (MySQL's default collations ignore case).
                let (key_type, state_type) = match d {
                    Dialect::MySql => (
                        "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                        "MEDIUMTEXT",
                    ),
                    Dialect::Postgres => ("VARCHAR(255)", "TEXT"),
                    _ => ("VARCHAR(255)", "CLOB"),
                };
                let create = format!(
                    "CREATE TABLE {t} (state_key {key_type} NOT NULL PRIMARY KEY, \
                     state {state_type} NOT NULL)"
                );
                match p.exec(&create).await {
                    Ok(()) => {
                        tracing::info!("created the incremental state table {table}");
                        Ok(None)
                    }
                    Err(_) => Err(first.chain()),
                }
            }
        }
    }

    async fn put(&self, table: &str, key: &str, text: &str) -> Result<(), String> {
        self.get(table, key).await?;
        let d = <SqlReader<C, X> as SqlSource>::DIALECT;
        let t = quote_ident(d, table);
        let k = datasync_db::sql::literal(d, key);
        self.transaction(&[
            format!("DELETE FROM {t} WHERE state_key = {k}"),
            format!(
                "INSERT INTO {t} (state_key, state) VALUES ({k}, {})",
                datasync_db::sql::literal(d, text)
            ),
        ])
        .await?;
        // Read back: a session that truncates what does not fit must not pass unnoticed.
        match self.get(table, key).await? {
            Some(back) if back == text => Ok(()),
            _ => Err(format!(
                "the watermark written to {table} does not read back the same (a column too \
                 short, or a session that truncates)"
            )),
        }
    }

    async fn check(&self, table: &str) -> Result<(), String> {
        // Made if missing (get), then an insert and a delete that touch no row: refused
        // without the privileges, changing nothing.
        self.get(table, "").await?;
        let d = <SqlReader<C, X> as SqlSource>::DIALECT;
        let t = quote_ident(d, table);
        let mut p = self.probe().await?;
        for q in [
            format!(
                "INSERT INTO {t} (state_key, state) SELECT state_key, state FROM {t} WHERE 1 = 0"
            ),
            format!("DELETE FROM {t} WHERE 1 = 0"),
        ] {
            p.exec(&q).await.map_err(|e| e.chain())?;
        }
        if d == Dialect::Oracle {
            p.exec("COMMIT").await.map_err(|e| e.chain())?;
        }
        Ok(())
    }

    async fn remove(&self, table: &str, key: &str) -> Result<(), String> {
        let d = <SqlReader<C, X> as SqlSource>::DIALECT;
        self.transaction(&[format!(
            "DELETE FROM {} WHERE state_key = {}",
            quote_ident(d, table),
            datasync_db::sql::literal(d, key)
        )])
        .await
    }
}
