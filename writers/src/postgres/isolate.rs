//! Finding the bad rows of a unit the target rejected: on the server in one pass (a
//! numbered temporary table and a PL/pgSQL block with a subtransaction per row), or by
//! bisection where that cannot run. Bad rows become dirty records with the server's message.

use super::task::{copy_lines, in_transaction, is_data_error, Failed, Plan, PostgresTask, Unit};
use datasync_db::postgres::tokio_postgres::Client;
use datasync_db::postgres::PostgresError;
use datasync_engine::{PluginError, TaskContext};

/// The temporary table rows of a rejected unit are copied into for isolation, numbered.
pub(super) const ISOLATE: &str = "datasync_isolate";
/// The temporary table the isolation block records rejected rows in.
pub(super) const REJECTS: &str = "datasync_rejects";
/// Dollar-quote tag of the isolation block.
pub(super) const DO_TAG: &str = "$datasync_isolate$";

/// Server-side isolation of a part the target rejected: the part is copied into a numbered
/// temporary table, then one PL/pgSQL block inserts its rows one by one, each in its own
/// subtransaction, recording the rows (number, message) the target refuses. Thousands of
/// times faster than bisecting with a transaction per step.
pub(super) struct Isolate {
    /// Creates (once per connection) and empties the temporary tables.
    pub(super) setup: String,
    /// `COPY datasync_isolate (cols) FROM STDIN ...`.
    pub(super) copy: String,
    /// The `DO` block.
    pub(super) block: String,
}

impl Isolate {
    pub(super) fn new(table: &str, qcols: &[String], format: &str, conflict: &str) -> Self {
        let cols = qcols.join(", ");
        let values: Vec<String> = qcols.iter().map(|c| format!("r.{c}")).collect();
        Isolate {
            setup: format!(
                "CREATE TEMP TABLE IF NOT EXISTS {ISOLATE} AS SELECT {cols} FROM {table} WITH NO DATA; \
                 ALTER TABLE {ISOLATE} ADD COLUMN IF NOT EXISTS datasync_row bigint GENERATED ALWAYS AS IDENTITY; \
                 CREATE TEMP TABLE IF NOT EXISTS {REJECTS} (row_no bigint, message text); \
                 TRUNCATE {ISOLATE} RESTART IDENTITY; TRUNCATE {REJECTS}"
            ),
            copy: format!("COPY {ISOLATE} ({cols}) FROM STDIN{format}"),
            block: format!(
                "DO {DO_TAG} DECLARE r record; d text; BEGIN \
                 FOR r IN SELECT * FROM {ISOLATE} ORDER BY datasync_row LOOP \
                 BEGIN INSERT INTO {table} ({cols}) VALUES ({}){conflict}; \
                 EXCEPTION WHEN data_exception OR integrity_constraint_violation OR cardinality_violation THEN \
                 GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL; \
                 INSERT INTO {REJECTS} VALUES (r.datasync_row, SQLERRM || ' (' || SQLSTATE || ')' \
                 || CASE WHEN coalesce(d, '') <> '' THEN ': ' || d ELSE '' END); \
                 END; END LOOP; END {DO_TAG}",
                values.join(", ")
            ),
        }
    }
}

impl PostgresTask {
    /// Writes `lines` row by row on the server in one transaction (see [`Isolate`]); returns
    /// the rows the target refused: (index into `lines`, the server's message).
    pub(super) async fn isolate(
        &self,
        client: &Client,
        plan: &Plan,
        lines: &[&[u8]],
    ) -> Result<Vec<(usize, String)>, Failed> {
        in_transaction(client, async {
            let iso = &plan.isolate;
            client.batch_execute(&iso.setup).await?;
            copy_lines(client, plan, &iso.copy, lines).await?;
            client.batch_execute(&iso.block).await?;
            let rows = client
                .query(
                    &format!("SELECT row_no, message FROM {REJECTS} ORDER BY row_no"),
                    &[],
                )
                .await?;
            let mut bad = Vec::with_capacity(rows.len());
            for r in rows {
                let n: i64 = r.try_get(0)?;
                let msg: String = r.try_get(1)?;
                // Rows are numbered from 1 in the order they were copied.
                bad.push((usize::try_from(n - 1).unwrap_or(usize::MAX), msg));
            }
            Ok(bad)
        })
        .await
    }

    /// Applies the parts of `unit` still in `pending` (ranges of its lines). A part the target
    /// rejects on data is isolated on the server (see [`Isolate`]); where that cannot run, it
    /// is split in halves until single bad rows are found. Bad rows become dirty records.
    /// Parts that landed leave `pending` and add to `landed`; on any other error the failing
    /// part stays in `pending`, so the caller can reconnect and go on where it stopped.
    pub(super) async fn apply_isolating(
        &self,
        client: &Client,
        plan: &Plan,
        unit: &Unit,
        pending: &mut Vec<std::ops::Range<usize>>,
        landed: &mut usize,
        ctx: &TaskContext,
    ) -> Result<Result<(), Failed>, PluginError> {
        let mut server_side = true;
        while let Some(range) = pending.pop() {
            if range.is_empty() {
                continue;
            }
            // Each part commits on its own: a stopped job stops here, not after the unit.
            ctx.check_cancelled()?;
            let part = &unit.lines[range.clone()];
            let lines: Vec<&[u8]> = part.iter().map(|(_, _, l)| l.as_slice()).collect();
            let e = match self.apply(client, plan, &lines).await {
                Ok(()) => {
                    *landed += part.len();
                    continue;
                }
                Err(Failed::Before(e)) if is_data_error(&e) => e,
                Err(other) => {
                    pending.push(range);
                    return Ok(Err(other));
                }
            };
            if part.len() == 1 {
                self.dirty_row(unit, &part[0], datasync_db::postgres::db_message(&e), ctx)?;
                continue;
            }
            if server_side {
                let started = std::time::Instant::now();
                ctx.counters.set_isolating(part.len() as u64);
                let found = self.isolate(client, plan, &lines).await;
                ctx.counters.set_isolating(0);
                match found {
                    Ok(bad) => {
                        tracing::info!(
                            "{}: isolated {} rejected row(s) of {} in {:.1}s",
                            self.writer.table,
                            bad.len(),
                            part.len(),
                            started.elapsed().as_secs_f64()
                        );
                        *landed += part.len() - bad.len();
                        for (i, msg) in bad {
                            let row = part.get(i).ok_or_else(|| {
                                PostgresError::Invalid(format!(
                                    "isolation named row {} of a part of {}",
                                    i + 1,
                                    part.len()
                                ))
                            })?;
                            self.dirty_row(unit, row, msg, ctx)?;
                        }
                        continue;
                    }
                    Err(Failed::Before(e)) if !e.is_closed() => {
                        // The rows do not even copy (a value the column type refuses), or
                        // PL/pgSQL is not there: bisect.
                        tracing::debug!(
                            "{}: server-side isolation did not run ({}); bisecting",
                            self.writer.table,
                            datasync_db::postgres::db_message(&e)
                        );
                        server_side = false;
                    }
                    Err(other) => {
                        pending.push(range);
                        return Ok(Err(other));
                    }
                }
            }
            let mid = range.start + range.len() / 2;
            pending.push(mid..range.end);
            pending.push(range.start..mid);
        }
        Ok(Ok(()))
    }

    /// Records one line of `unit` as a dirty record with `error`.
    pub(super) fn dirty_row(
        &self,
        unit: &Unit,
        (bi, r, _): &(usize, usize, Vec<u8>),
        error: String,
        ctx: &TaskContext,
    ) -> Result<(), PluginError> {
        self.writer.dirty(ctx, &unit.batches[*bi].data, *r, error)
    }
}
