//! The reader every SQL system shares: the job's parameters, one connection setting per
//! `connection[]`, and the system's own settings. A system implements [`SqlSource`] (how
//! to log in for planning, how a planned split becomes its task, how its tables are named
//! for lineage); the [`Reader`] contract (check --connect, split planning, shard plans) is
//! implemented here once.

use crate::sqlconfig::SqlReaderConfig;
use crate::sqlsplit::{plan_reads, probe_connections, KeyProbe, Planned};
use datasync_db::sql::Dialect;
use datasync_engine::lineage::Dataset;
use datasync_engine::{async_trait, PluginError, Reader, ReaderTask};
use std::sync::Arc;

/// A SQL reader: shared parameters, connection settings `C`, and the system's own `X`.
pub struct SqlReader<C, X = ()> {
    pub(crate) cfg: Arc<SqlReaderConfig>,
    pub(crate) conns: Arc<Vec<C>>,
    pub(crate) own: Arc<X>,
}

impl<C, X> SqlReader<C, X> {
    /// A reader of `cfg` over `conns` (one per `connection[]`).
    pub(crate) fn new(cfg: SqlReaderConfig, conns: Vec<C>, own: X) -> Self {
        SqlReader {
            cfg: Arc::new(cfg),
            conns: Arc::new(conns),
            own: Arc::new(own),
        }
    }
}

impl<C, X> Clone for SqlReader<C, X> {
    fn clone(&self) -> Self {
        SqlReader {
            cfg: self.cfg.clone(),
            conns: self.conns.clone(),
            own: self.own.clone(),
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

    async fn split(&self, channels: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError> {
        let planned = plan_reads(&self.cfg, channels, |i| async move {
            Ok(self.open_probe(i).await?.0)
        })
        .await?;
        let planned = self.refine(planned, channels).await?;
        Ok(planned.into_iter().map(|p| self.task(p)).collect())
    }

    fn task_from_plan(
        &self,
        planned: &serde_json::Value,
    ) -> Result<Box<dyn ReaderTask>, PluginError> {
        datasync_engine::plugin::task_from(planned, |p| self.task(p))
    }
}
