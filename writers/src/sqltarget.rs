//! What the SQL writers share about their target: the `connection[]` entry, its validation,
//! and matching the writer's `column` list to the incoming batches.

use arrow_array::RecordBatch;
use datasync_engine::config::{join_path, one_or_many, ConfigError};
use datasync_engine::values::column_names;
use serde::Deserialize;

/// One `connection[]` entry of a SQL writer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SqlWriterConnection {
    /// URL (or URLs tried in order).
    #[serde(deserialize_with = "one_or_many")]
    pub jdbc_url: Vec<String>,
    /// Target table (one).
    #[serde(deserialize_with = "one_or_many")]
    pub table: Vec<String>,
}

/// Checks that the writer names one connection with one table and some columns; returns the
/// connection, its table and the path of its `jdbcUrl`.
pub fn single_target<'a>(
    connection: &'a [SqlWriterConnection],
    column: &[String],
    path: &str,
) -> Result<(&'a SqlWriterConnection, String, String), ConfigError> {
    let at = join_path(path, "connection");
    let first = match connection {
        [one] => one,
        [] => return Err(ConfigError::new(at, "needs one entry")),
        _ => {
            return Err(ConfigError::new(
                at,
                "write to one connection per job (found several)",
            ))
        }
    };
    let table = match first.table.as_slice() {
        [t] if !t.trim().is_empty() => t.clone(),
        _ => {
            return Err(ConfigError::new(
                format!("{at}[0].table"),
                "name exactly one target table",
            ))
        }
    };
    if column.is_empty() {
        return Err(ConfigError::new(
            join_path(path, "column"),
            "list the target columns, or [\"*\"]",
        ));
    }
    Ok((first, table, format!("{at}[0].jdbcUrl")))
}

/// The target column names for `batch`: the configured list (which must match the batch's
/// width) or, for `["*"]`, the batch's own names.
pub fn target_columns(column: &[String], batch: &RecordBatch) -> Result<Vec<String>, String> {
    if column == ["*"] {
        return Ok(column_names(batch));
    }
    if column.len() != batch.num_columns() {
        return Err(format!(
            "the writer lists {} columns ({}) but the reader produces {} ({})",
            column.len(),
            column.join(", "),
            batch.num_columns(),
            column_names(batch).join(", ")
        ));
    }
    Ok(column.to_vec())
}

/// `CREATE TABLE IF NOT EXISTS` for `createTable`: the batch's Arrow types mapped by `ddl`
/// (the system's type table) under the target column `names`.
pub fn create_table_sql(
    d: datasync_engine::sql::Dialect,
    table: &str,
    batch: &RecordBatch,
    names: &[String],
    ddl: fn(&arrow_schema::DataType) -> Option<String>,
) -> Result<String, String> {
    let mut cols = Vec::with_capacity(names.len());
    for (f, name) in batch.schema().fields().iter().zip(names) {
        let t = ddl(f.data_type()).ok_or_else(|| {
            format!(
                "createTable: no {d:?} type for column {name} of type {}",
                f.data_type()
            )
        })?;
        cols.push(format!(
            "{} {t}",
            datasync_engine::sql::quote_ident(d, name)
        ));
    }
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        datasync_engine::sql::quote_ident(d, table),
        cols.join(", ")
    ))
}

/// Default of the SQL writers' `reconnectTimeout`: long enough for a server restart or a
/// failover, short enough that a dead server fails the job within minutes.
pub fn default_reconnect_timeout() -> datasync_engine::config::HumanDuration {
    datasync_engine::config::HumanDuration(std::time::Duration::from_secs(60))
}

/// After a lost connection: tries `open` with backoff (0.5s, doubling, at most 10s apart)
/// until it succeeds, it fails with an error `retriable` rejects, or `limit` has passed since
/// the loss; then the last error. Logs each try, so a restarting server is visible.
pub(crate) async fn reconnect<T, E, F, Fut>(
    url: &str,
    limit: std::time::Duration,
    retriable: impl Fn(&E) -> bool,
    mut open: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let start = std::time::Instant::now();
    let mut wait = std::time::Duration::from_millis(500);
    loop {
        match open().await {
            Ok(c) => {
                tracing::info!(
                    "{url}: reconnected after {:.1}s",
                    start.elapsed().as_secs_f64()
                );
                return Ok(c);
            }
            Err(e) if retriable(&e) && start.elapsed() + wait <= limit => {
                tracing::warn!(
                    "{url}: cannot reconnect yet ({e}); trying again in {:.1}s (reconnectTimeout {}s)",
                    wait.as_secs_f64(),
                    limit.as_secs()
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A SQL writer task's failure after it had committed some units: those stay in the target
/// (no job-wide transaction), and the report says how many.
#[derive(Debug, thiserror::Error)]
#[error("{source} ({units} unit(s), {rows} row(s) of this task were committed before; they stay in the target)")]
pub struct AfterCommitted {
    /// Units (transactions) committed by this task.
    pub units: u64,
    /// Rows in them.
    pub rows: u64,
    source: datasync_engine::PluginError,
}

/// Wraps `e` with what the task had committed, unless nothing was, or `e` is the job stopping
/// (cancellation, the error limit, a closed channel), which the runner reports on its own.
pub(crate) fn after_committed(
    e: datasync_engine::PluginError,
    units: u64,
    rows: u64,
) -> datasync_engine::PluginError {
    use datasync_engine::plugin::Cancelled;
    if units == 0
        || e.is::<Cancelled>()
        || e.is::<datasync_engine::dirty::DirtyError>()
        || e.is::<datasync_engine::channel::Closed>()
    {
        return e;
    }
    let retriable = e.is_retriable();
    let wrapped = AfterCommitted {
        units,
        rows,
        source: e,
    };
    if retriable {
        datasync_engine::PluginError::retriable(wrapped)
    } else {
        datasync_engine::PluginError::new(wrapped)
    }
}
