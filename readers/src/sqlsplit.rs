//! Planning the key-range splits of a table, the same way for every SQL reader: an integer
//! key's MIN/MAX under the job's `where` give `channel` contiguous ranges; a text key is cut at
//! quantiles the server computes (NTILE over the key, in the column's own collation); both plus
//! the NULL-key task. A system implements [`KeyProbe`] (a few small queries).

use crate::sqlconfig::{parse_bounds, SqlReaderConfig};
use datasync_db::sql::{schema_and_name, unquote_ident, SqlSplit};
use datasync_engine::{async_trait, PluginError};

/// What planning asks a SQL source about a table's split key.
#[async_trait]
pub(crate) trait KeyProbe: Send {
    /// The type of the first result column of `sql` (a query that returns no row): its name
    /// for messages and whether it is an integer type; `None` when there is no column.
    async fn column_type(&mut self, sql: &str) -> Result<Option<(String, bool)>, PluginError>;
    /// Every row of `sql`, each column as text (NULLs kept as `None`).
    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PluginError>;
    /// The first row of `sql` (empty when there is no row).
    async fn first_row(&mut self, sql: &str) -> Result<Vec<Option<String>>, PluginError> {
        Ok(self.rows(sql).await?.into_iter().next().unwrap_or_default())
    }
    /// The non-NULL values of the first column of `sql`, in order.
    async fn texts(&mut self, sql: &str) -> Result<Vec<String>, PluginError> {
        let rows = self.rows(sql).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect())
    }
    /// The key column's type (its name for messages) and whether it is an integer type.
    async fn key_type(&mut self, table: &str, pk: &str) -> Result<(String, bool), PluginError> {
        let d = self.dialect();
        let q = format!(
            "SELECT {} FROM {} WHERE 1 = 0",
            datasync_db::sql::quote_ident(d, pk),
            datasync_db::sql::quote_ident(d, table)
        );
        self.column_type(&q)
            .await?
            .ok_or_else(|| PluginError::new(format!("splitPk {pk}: no such column in {table}")))
    }
    /// MIN and MAX of the key as text, over the rows `where_sql` (`""` or ` WHERE (...)`)
    /// selects.
    async fn key_bounds(
        &mut self,
        table: &str,
        pk: &str,
        where_sql: &str,
    ) -> Result<(Option<String>, Option<String>), PluginError> {
        let d = self.dialect();
        let qpk = datasync_db::sql::quote_ident(d, pk);
        let q = format!(
            "SELECT {}, {} FROM {}{where_sql}",
            d.text_of(&format!("MIN({qpk})")),
            d.text_of(&format!("MAX({qpk})")),
            datasync_db::sql::quote_ident(d, table)
        );
        let mut row = self.first_row(&q).await?.into_iter();
        Ok((row.next().flatten(), row.next().flatten()))
    }
    /// The last key of each of `n` parts of the non-NULL keys in key order (the server's
    /// collation), over the rows `where_clause` selects; as text, ascending. A large table
    /// (`rows`) is cut on a sample of about [`QUANTILE_SAMPLE`] keys chosen by a hash of the
    /// key: deterministic, and any cut values give exact ranges; the sample only balances.
    async fn key_quantiles(
        &mut self,
        table: &str,
        pk: &str,
        where_clause: Option<&str>,
        n: usize,
        rows: Option<u64>,
    ) -> Result<Vec<String>, PluginError> {
        let d = self.dialect();
        let every = sample_every(rows);
        if every > 1 {
            tracing::info!("{table}: quantiles of {pk} from a sample of 1 in {every} keys");
        }
        let qpk = datasync_db::sql::quote_ident(d, pk);
        let sample = (every > 1).then(|| d.sample_filter(&qpk, every));
        let q = quantile_sql(d, table, pk, where_clause, n, sample);
        self.texts(&q).await
    }
    /// This system's SQL dialect.
    fn dialect(&self) -> datasync_db::sql::Dialect;
    /// Runs a statement that returns no rows (an incremental state table's DDL and writes).
    async fn exec(&mut self, sql: &str) -> Result<(), PluginError>;
    /// A query whose first value is about how many rows `table` holds, from the server's
    /// statistics.
    fn row_estimate_sql(&self, table: &str) -> String;
    /// About how many rows `table` holds (`None`: unknown, or never analyzed).
    async fn row_estimate(&mut self, table: &str) -> Result<Option<u64>, PluginError> {
        let q = self.row_estimate_sql(table);
        let first = self.first_row(&q).await?.into_iter().next().flatten();
        Ok(first.and_then(|t| t.trim().parse().ok()))
    }
    /// Whether the key alone has a unique index, in `schema` (default: the connection's)
    /// `name`: a split can then be read in key order cheaply and go on after its last key
    /// without missing or repeating a row. `None`: this reader does not read in key order.
    async fn key_indexed(
        &mut self,
        schema: Option<&str>,
        name: &str,
        pk: &str,
    ) -> Result<Option<bool>, PluginError> {
        let _ = (schema, name, pk);
        Ok(None)
    }
    /// The result columns of `sql` (name, the system's type name), without reading a row.
    async fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, PluginError>;
}

/// `check --connect` for every `connection[]` of a SQL reader: `connect(i)` logs in (the probe
/// and the server's URL for the line), then [`probe_source`].
pub(crate) async fn probe_connections<P, F, Fut>(
    cfg: &SqlReaderConfig,
    dialect: datasync_db::sql::Dialect,
    count: usize,
    mut connect: F,
) -> datasync_engine::Probe
where
    P: KeyProbe,
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(P, String), PluginError>>,
{
    let mut p = datasync_engine::Probe::default();
    for i in 0..count {
        match connect(i).await {
            Ok((mut probe, url)) => {
                p.ok(
                    format!("connection[{i}]"),
                    format!("{url}: logged in as {}", cfg.username),
                );
                probe_source(&mut probe, cfg, i, dialect, &mut p).await;
            }
            Err(e) => p.problem(format!("connection[{i}]"), e.chain()),
        }
    }
    p
}

/// `check --connect` for connection `conn_ix` of a SQL reader: each table's (or query's)
/// columns as the job selects them, under its `where`, reading no row; the split key's type.
/// The first table's or query's columns become the probe's columns.
pub(crate) async fn probe_source(
    probe: &mut dyn KeyProbe,
    cfg: &SqlReaderConfig,
    conn_ix: usize,
    dialect: datasync_db::sql::Dialect,
    p: &mut datasync_engine::Probe,
) {
    let (splits, keyed) = cfg.plan();
    let mut reads: Vec<(String, SqlSplit)> = splits
        .into_iter()
        .filter(|s| s.conn() == conn_ix)
        .map(|s| (s.describe(), s))
        .collect();
    for (c, table, _) in keyed.iter().filter(|k| k.0 == conn_ix) {
        reads.push((
            format!("table {table}"),
            SqlSplit::Table {
                conn: *c,
                table: table.clone(),
                range: None,
                text_range: None,
                null_keys: false,
            },
        ));
    }
    for (what, split) in reads {
        let select = split.sql(dialect, &cfg.column, cfg.where_clause.as_deref(), None);
        let sql = format!("SELECT * FROM ({select}) datasync_probe WHERE 1 = 0");
        match probe.describe(&sql).await {
            Ok(cols) => {
                p.ok(what, datasync_engine::Probe::columns_text(&cols));
                if p.columns.is_none() {
                    p.columns = Some(cols);
                }
            }
            Err(e) => p.problem(what, e.chain()),
        }
    }
    for (_, table, pk) in keyed.iter().filter(|k| k.0 == conn_ix) {
        let what = format!("splitPk {pk} of {table}");
        match probe.key_type(table, pk).await {
            Ok((t, true)) => p.ok(what, format!("{t}: split into integer key ranges")),
            Ok((t, false)) => p.ok(what, format!("{t}: split at key quantiles")),
            Err(e) => p.problem(what, e.chain()),
        }
    }
}

/// One read a SQL reader plans: the split, about how many rows it holds (from the table's
/// statistics, for progress), and whether it may be continued after its last key when the
/// connection is lost (see [`KeyProbe::key_indexed`]).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Planned {
    /// What is read.
    pub split: SqlSplit,
    /// About how many rows (table statistics shared out by key range); `None`: unknown.
    pub estimate: Option<u64>,
    /// Read in key order and continued after the last key on a lost connection.
    pub resumable: bool,
    /// Columns read as text (PostgreSQL's irregular arrays, see
    /// `PostgresReader::irregular_arrays`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub as_text: Vec<String>,
    /// An incremental run's window, added to the job's `where` (kept in shard plans, so every
    /// shard reads the window the plan was made with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// How long a reader whose split is cut waits for its source to come back before the task
/// fails.
pub(crate) const RECONNECT_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a split cut at `lost` may still wait for its source after a query on the new
/// connection failed: `None` when it may not (no cut yet, not read in key order, an error
/// that does not heal, or the window has passed).
pub(crate) fn time_left(
    lost: Option<std::time::Instant>,
    keyed: bool,
    retriable: bool,
) -> Option<std::time::Duration> {
    let left = RECONNECT_WINDOW.saturating_sub(lost?.elapsed());
    (keyed && retriable && !left.is_zero()).then_some(left)
}

/// Says that task `task`'s read in key order was cut by `e` and goes on after key `after`.
pub(crate) fn warn_cut(task: usize, e: &dyn std::fmt::Display, after: Option<i128>) {
    let after = after.map_or_else(|| "(none yet)".to_string(), |k| k.to_string());
    tracing::warn!("task {task}: {e}; reconnecting to read on after key {after}");
}

/// The [`datasync_engine::ReaderTask`] methods every SQL reader's task answers from its
/// `plan: Planned` field (what it reads, its estimate, and the plan value for shards).
macro_rules! planned_task {
    () => {
        fn describe(&self) -> String {
            self.plan.split.describe()
        }

        fn size_hint(&self) -> Option<datasync_engine::SizeHint> {
            self.plan
                .estimate
                .map(datasync_engine::SizeHint::RecordsEstimate)
        }

        fn planned(&self) -> Option<serde_json::Value> {
            datasync_engine::plugin::to_plan(&self.plan)
        }
    };
}
pub(crate) use planned_task;

/// Every read of a SQL reader: queries and tables as they are, tables with a split key cut
/// into key ranges; each with its share of the table's row estimate. `connect(i)` opens a
/// probe on `connection[i]` (one per connection, only where needed).
pub(crate) async fn plan_reads<P, F, Fut>(
    cfg: &SqlReaderConfig,
    channels: usize,
    mut connect: F,
) -> Result<Vec<Planned>, PluginError>
where
    P: KeyProbe,
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<P, PluginError>>,
{
    let (splits, keyed) = cfg.plan();
    let mut probes: std::collections::HashMap<usize, P> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for split in splits {
        // A whole table's estimate is only for progress: a source that cannot be reached
        // here fails in its task, where it is retried.
        let estimate = match &split {
            SqlSplit::Table { conn, table, .. } => {
                if let std::collections::hash_map::Entry::Vacant(e) = probes.entry(*conn) {
                    if let Ok(p) = connect(*conn).await {
                        e.insert(p);
                    }
                }
                match probes.get_mut(conn) {
                    Some(p) => p.row_estimate(table).await.unwrap_or(None),
                    None => None,
                }
            }
            SqlSplit::Query { .. } => None,
        };
        out.push(Planned {
            split,
            estimate,
            resumable: false,
            as_text: Vec::new(),
            filter: None,
        });
    }
    for (conn, table, pk) in keyed {
        if let std::collections::hash_map::Entry::Vacant(e) = probes.entry(conn) {
            e.insert(connect(conn).await?);
        }
        let Some(probe) = probes.get_mut(&conn) else {
            continue;
        };
        let rows = probe.row_estimate(&table).await.unwrap_or(None);
        let (splits, indexed) =
            plan_key_splits(probe, cfg, conn, &table, &pk, channels, rows).await?;
        let shares = shares_of(&splits, rows);
        out.extend(
            splits
                .into_iter()
                .zip(shares)
                .map(|(split, estimate)| Planned {
                    split,
                    estimate,
                    resumable: indexed,
                    as_text: Vec::new(),
                    filter: None,
                }),
        );
    }
    Ok(out)
}

/// `rows` shared out over a table's key splits: integer ranges by their width, text ranges
/// evenly, nothing for the NULL-key task.
fn shares_of(splits: &[SqlSplit], rows: Option<u64>) -> Vec<Option<u64>> {
    let Some(rows) = rows else {
        return vec![None; splits.len()];
    };
    let width = |s: &SqlSplit| match s {
        SqlSplit::Table {
            range: Some((lo, hi)),
            ..
        } => Some((hi - lo + 1).max(0) as f64),
        _ => None,
    };
    let total: f64 = splits.iter().filter_map(width).sum();
    let texts = splits
        .iter()
        .filter(|s| {
            matches!(
                s,
                SqlSplit::Table {
                    text_range: Some(_),
                    ..
                }
            )
        })
        .count();
    splits
        .iter()
        .map(|s| match s {
            SqlSplit::Table {
                null_keys: true, ..
            } => Some(0),
            SqlSplit::Table {
                text_range: Some(_),
                ..
            } => Some(rows / texts.max(1) as u64),
            _ => match width(s) {
                Some(w) if total > 0.0 => Some((rows as f64 * w / total).round() as u64),
                _ => Some(rows),
            },
        })
        .collect()
}

/// The splits of `table` (connection `conn_ix`) on `pk`: `channels` key ranges plus the NULL
/// keys; and whether they may be read in key order (see [`KeyProbe::key_indexed`]). `rows`:
/// the table's row estimate (sizes the text-key sample).
pub(crate) async fn plan_key_splits(
    probe: &mut dyn KeyProbe,
    cfg: &SqlReaderConfig,
    conn_ix: usize,
    table: &str,
    pk: &str,
    channels: usize,
    rows: Option<u64>,
) -> Result<(Vec<SqlSplit>, bool), PluginError> {
    let (type_name, integer) = probe.key_type(table, pk).await?;
    if !integer {
        if !is_text_type(&type_name) {
            return Err(PluginError::new(format!(
                "splitPk \"{pk}\" of {table} is {type_name}; only integer and text keys can be \
                 split (choose another key, or drop splitPk to read the table in one task)"
            )));
        }
        let w = cfg.where_clause.as_deref().filter(|w| !w.trim().is_empty());
        let cuts = probe
            .key_quantiles(table, pk, w, channels.max(1), rows)
            .await?;
        // The last part's maximum is the largest key: the open last range covers it.
        let bounds = &cuts[..cuts.len().saturating_sub(1)];
        let splits = SqlSplit::text_key_ranges(conn_ix, table, bounds);
        tracing::info!(
            "{table}: text splitPk {pk} cut at {} quantile(s) -> {} tasks",
            bounds.len(),
            splits.len()
        );
        return Ok((splits, false));
    }
    let (schema, name) = schema_and_name(table);
    let indexed = probe
        .key_indexed(schema.as_deref(), &name, &unquote_ident(pk))
        .await?;
    if indexed == Some(false) {
        tracing::info!(
            "{table}: splitPk {pk} has no unique index of its own: a split whose connection is \
             lost mid-read is read again from its start (a task retry), not continued after its \
             last key"
        );
    }
    let (lo, hi) = probe.key_bounds(table, pk, &cfg.where_sql()).await?;
    let bounds = parse_bounds(lo, hi);
    let splits = SqlSplit::key_ranges(conn_ix, table, bounds, channels);
    let range = match bounds {
        Some((lo, hi)) => format!("from {lo} to {hi}"),
        None => "(no rows with a key)".to_string(),
    };
    tracing::info!("{table}: splitPk {pk} {range} -> {} tasks", splits.len());
    Ok((splits, indexed == Some(true)))
}

/// Whether a key type (as the probe names it) is a character type that can be cut by text.
fn is_text_type(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "utf8"
            | "text"
            | "varchar"
            | "bpchar"
            | "char"
            | "name"
            | "citext"
            | "varchar2"
            | "nvarchar2"
            | "nchar"
    )
}

/// Keys a text-key quantile query samples at most (about): cut values from a sample still give
/// exact ranges (the server compares), so a sample only has to balance the parts.
pub(crate) const QUANTILE_SAMPLE: u64 = 50_000;

/// Keep one key in this many for the quantiles of a table of about `rows` rows (1 = all).
pub(crate) fn sample_every(rows: Option<u64>) -> u64 {
    rows.map_or(1, |r| (r / QUANTILE_SAMPLE).max(1))
}

/// The quantile query of a text key: the last key of each of `n` NTILE parts, ascending, over
/// the rows `where_clause` selects, sampled by `hash_filter` (a condition keeping about one key
/// in `every`, e.g. `CRC32(k) % 7 = 0`) when the table is large. `max_text` casts the
/// aggregate to text for the driver.
pub(crate) fn quantile_sql(
    d: datasync_db::sql::Dialect,
    table: &str,
    pk: &str,
    where_clause: Option<&str>,
    n: usize,
    sample: Option<String>,
) -> String {
    let qpk = datasync_db::sql::quote_ident(d, pk);
    let w = where_clause
        .map(|w| format!(" AND ({w})"))
        .unwrap_or_default();
    let sample = sample.map(|c| format!(" AND {c}")).unwrap_or_default();
    format!(
        "SELECT {} FROM (SELECT {qpk} AS k, NTILE({n}) OVER (ORDER BY {qpk}) AS b FROM {} \
         WHERE {qpk} IS NOT NULL{w}{sample}) q GROUP BY b ORDER BY b",
        d.text_of("MAX(k)"),
        datasync_db::sql::quote_ident(d, table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_estimates_are_shared_by_key_width() {
        let splits = SqlSplit::key_ranges(0, "t", Some((1, 100)), 4);
        let shares = shares_of(&splits, Some(1000));
        assert_eq!(shares.len(), 5);
        assert_eq!(shares.last(), Some(&Some(0)), "the NULL-key task");
        let sum: u64 = shares.iter().flatten().sum();
        assert_eq!(sum, 1000);
        assert!(shares_of(&splits, None).iter().all(Option::is_none));
    }
}
