//! The reader every SQL system shares: the job's parameters, one connection setting per
//! `connection[]`, and the system's own settings. A system implements [`SqlSource`] (how
//! to log in for planning, how a planned split becomes its task, how its tables are named
//! for lineage); the [`Reader`] contract (check --connect, split planning, shard plans) is
//! implemented here once.

use crate::sqlconfig::SqlReaderConfig;
use crate::sqlsplit::{plan_reads, probe_connections, KeyProbe, Planned};
use datasync_db::sql::{quote_ident, Dialect};
use datasync_engine::incremental::{Incremental, StateTable, Window};
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
        let tables: Vec<&str> = reader
            .cfg
            .connection
            .iter()
            .flat_map(|c| c.table.iter().map(String::as_str))
            .collect();
        let at = datasync_engine::config::join_path(at, "incremental");
        let mut inc = Incremental::new(i, &at, &tables.join(","))?;
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

    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        let n = self.conns.len();
        Ok(probe_connections(&self.cfg, Self::DIALECT, n, |i| self.open_probe(i)).await)
    }

    fn incremental(&self) -> Option<&Incremental> {
        self.incremental.as_deref()
    }

    async fn split(&self, channels: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError> {
        let (windowed, filter);
        let me = match &self.incremental {
            Some(inc) => {
                filter = Some(window(self, inc).await?);
                windowed = self.with_filter(filter.as_deref().unwrap_or_default());
                &windowed
            }
            None => {
                filter = None;
                self
            }
        };
        let planned = plan_reads(&me.cfg, channels, |i| async move {
            Ok(me.open_probe(i).await?.0)
        })
        .await?;
        let planned = me.refine(planned, channels).await?;
        Ok(planned
            .into_iter()
            .map(|mut p| {
                p.filter.clone_from(&filter);
                me.task(p)
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

/// This run's window of an incremental read, as a filter: above the committed watermark and
/// at or below the high-water mark (the greatest value of the column in every table read,
/// under the job's `where`) read now. Recorded for the commit.
async fn window<C, X>(reader: &SqlReader<C, X>, inc: &Incremental) -> Result<String, PluginError>
where
    SqlReader<C, X>: SqlSource,
{
    let d = <SqlReader<C, X> as SqlSource>::DIALECT;
    let col = quote_ident(d, &inc.column);
    let low = inc.low().await.map_err(PluginError::new)?;
    let mut high: Option<String> = None;
    for (i, c) in reader.cfg.connection.iter().enumerate() {
        if c.table.is_empty() {
            continue;
        }
        let (mut probe, _) = reader.open_probe(i).await?;
        for t in &c.table {
            let q = format!(
                "SELECT {} FROM {}{}",
                (probe.text_of())(&format!("MAX({col})")),
                quote_ident(d, t),
                reader.cfg.where_sql()
            );
            for v in probe.texts(&q).await? {
                high = Some(match high {
                    Some(h) => greater(h, v),
                    None => v,
                });
            }
        }
    }
    // Rows deleted since the last run never move the watermark back.
    let high = match (high, &low) {
        (Some(h), Some(l)) => Some(greater(h, l.clone())),
        (h, _) => h,
    };
    let window = Window {
        low: low.clone(),
        high: high.clone(),
    };
    inc.begin(&window);
    let lit = |v: &str| match v.trim().parse::<i128>() {
        Ok(n) => n.to_string(),
        Err(_) => datasync_db::sql::literal(d, v),
    };
    let filter = match (&low, &high) {
        (_, None) => "1 = 0".to_string(),
        (None, Some(h)) => format!("{col} <= {}", lit(h)),
        (Some(l), Some(h)) => format!("{col} > {} AND {col} <= {}", lit(l), lit(h)),
    };
    match (&low, &high) {
        (_, None) => tracing::info!("incremental on {}: the source has no rows", inc.column),
        (None, Some(h)) => tracing::info!(
            "incremental on {}: {}: reading up to {h}",
            inc.column,
            if inc.is_full() {
                "--full"
            } else {
                "no committed watermark"
            }
        ),
        (Some(l), Some(h)) => {
            tracing::info!("incremental on {}: reading above {l} up to {h}", inc.column)
        }
    }
    Ok(filter)
}

/// The greater of two values of the incremental column as the source printed them: as
/// numbers when both are whole numbers, else as text (dates and times print in an order that
/// sorts as text).
fn greater(a: String, b: String) -> String {
    match (a.trim().parse::<i128>(), b.trim().parse::<i128>()) {
        (Ok(x), Ok(y)) => {
            if y > x {
                b
            } else {
                a
            }
        }
        _ => std::cmp::max(a, b),
    }
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
                let create = format!(
                    "CREATE TABLE {t} (state_key VARCHAR(255) NOT NULL PRIMARY KEY, \
                     state VARCHAR(4000) NOT NULL)"
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
        .await
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
