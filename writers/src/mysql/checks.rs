//! What the MySQL writer checks so that no value lands changed: the warnings that say the
//! server altered a value, one-row transactions that isolate such rows, the integer target
//! columns MySQL rounds into without a warning, and how a unit failed.

use super::task::{MysqlTask, Session};
use super::writer::STRUCTURAL;
use crate::sqltext::TargetKind;
use datasync_db::mysql::mysql_async::{self, prelude::Queryable};
use datasync_db::sql::unquote_ident;
use datasync_engine::PluginError;

/// A target column as information_schema describes it: name, DATA_TYPE,
/// DATETIME_PRECISION, COLUMN_TYPE (`char(5)`, `enum('a','b')`).
type TargetColumn = (String, String, Option<u32>, String);

/// The dirty-record text of a row the server cannot take in one packet.
pub(super) fn too_big(bytes: usize, room: usize) -> String {
    format!(
        "the row is {bytes} bytes as SQL, more than the server's max_allowed_packet lets one \
         statement carry ({room} bytes); raise max_allowed_packet on the server to load it"
    )
}

/// How a unit failed: before COMMIT (rolled back by the server) or at it (unknown).
pub(super) enum Failed {
    Before(mysql_async::Error),
    AtCommit(mysql_async::Error),
    /// The server changed a value on the way in (rounded, cut, clamped) and said so only in a
    /// warning: the unit was rolled back.
    Changed(String),
}

/// Server warnings that mean a value was changed on the way in rather than stored as sent:
/// NULL into NOT NULL set to a default (1263), out of range clamped (1264), data truncated or a
/// decimal rounded (1265), incorrect value truncated (1292), incorrect value (1366), data too
/// long (1406).
const VALUE_CHANGED: &[u32] = &[1263, 1264, 1265, 1292, 1366, 1406];

/// After a statement: the warnings that say a value was changed, if any (one line).
pub(super) async fn value_changes(
    conn: &mut mysql_async::Conn,
) -> Result<Option<String>, mysql_async::Error> {
    if conn.get_warnings() == 0 {
        return Ok(None);
    }
    let rows: Vec<(String, u32, String)> = conn.query("SHOW WARNINGS").await?;
    let changed: Vec<String> = rows
        .into_iter()
        .filter(|(_, code, _)| VALUE_CHANGED.contains(code))
        .map(|(level, code, msg)| format!("{level} {code}: {msg}"))
        .collect();
    Ok((!changed.is_empty()).then(|| {
        format!(
            "the server would change the value ({}); not written",
            changed.join("; ")
        )
    }))
}

impl From<mysql_async::Error> for Failed {
    fn from(e: mysql_async::Error) -> Self {
        Failed::Before(e)
    }
}

pub(super) fn is_structural(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(se) if STRUCTURAL.contains(&se.code))
}

impl MysqlTask {
    /// One row in its own transaction: committed when the server stored it as sent, rolled
    /// back (and the warnings returned) when it would have changed a value.
    pub(super) async fn insert_one(
        &self,
        s: &mut Session,
        sql: &str,
    ) -> Result<Option<String>, mysql_async::Error> {
        s.conn.query_drop("START TRANSACTION").await?;
        if let Err(e) = s.conn.query_drop(sql).await {
            let _ = s.conn.query_drop("ROLLBACK").await;
            return Err(e);
        }
        if let Some(changed) = value_changes(&mut s.conn).await? {
            s.conn.query_drop("ROLLBACK").await?;
            return Ok(Some(changed));
        }
        s.conn.query_drop("COMMIT").await?;
        Ok(None)
    }

    /// Per column of `names`: what of the target column's type changes how values are
    /// written (see [`TargetKind`]). With `column: ["*"]`, also decides how rows map: by name
    /// when every name the reader gives is a target column, else by position as DataX writes
    /// them (with a warning).
    pub(super) async fn target_kinds(
        &mut self,
        s: &mut Session,
        names: &[String],
        batch: &arrow_array::RecordBatch,
    ) -> Result<Vec<TargetKind>, PluginError> {
        let q = format!(
            "SELECT COLUMN_NAME, DATA_TYPE, DATETIME_PRECISION, COLUMN_TYPE \
             FROM information_schema.COLUMNS WHERE {} ORDER BY ORDINAL_POSITION",
            datasync_db::mysql::information_schema_filter(&self.writer.table)
        );
        let rows: Vec<TargetColumn> = s
            .conn
            .query(q.as_str())
            .await
            .map_err(|e| self.writer.conn.query_error(&s.url, &q, e))?;
        let key = |n: &str| unquote_ident(n.trim()).to_lowercase();
        let by_name: std::collections::HashMap<String, &TargetColumn> =
            rows.iter().map(|r| (r.0.to_lowercase(), r)).collect();
        let types = batch.schema();
        let narrow_of = |i: usize, target: Option<&TargetColumn>| {
            target.map_or(crate::narrow::Narrow::None, |(_, t, p, ct)| {
                crate::narrow::Narrow::of_mysql(t, *p, ct, types.field(i).data_type())
            })
        };
        self.positional = self.writer.spec.params.column == ["*"]
            && !names.iter().all(|n| by_name.contains_key(&key(n)));
        let stamps: Vec<String> = if self.positional {
            rows.iter()
                .take(names.len())
                .filter(|(_, t, _, _)| t.eq_ignore_ascii_case("timestamp"))
                .map(|(c, _, _, _)| c.clone())
                .collect()
        } else {
            names
                .iter()
                .filter(|n| {
                    by_name
                        .get(&key(n))
                        .is_some_and(|(_, t, _, _)| t.eq_ignore_ascii_case("timestamp"))
                })
                .cloned()
                .collect()
        };
        if !stamps.is_empty() {
            if let Some(zone) = self.writer.conn.shifted_zone(&mut s.conn, &s.url).await? {
                return Err(datasync_db::mysql::zone_refusal(&zone, "written", &stamps).into());
            }
        }
        if self.positional {
            crate::sqltarget::warn_positional(&self.writer.table, names);
            self.narrow = (0..names.len())
                .map(|i| narrow_of(i, rows.get(i)))
                .collect();
            self.targets = rows.iter().map(|(c, _, _, _)| c.clone()).collect();
            return Ok((0..names.len())
                .map(|i| {
                    rows.get(i)
                        .map_or_else(TargetKind::default, |(_, t, _, _)| TargetKind::of_mysql(t))
                })
                .collect());
        }
        self.targets = names.to_vec();
        self.narrow = names
            .iter()
            .enumerate()
            .map(|(i, n)| narrow_of(i, by_name.get(&key(n)).copied()))
            .collect();
        Ok(names
            .iter()
            .map(|n| {
                by_name
                    .get(&key(n))
                    .map_or_else(TargetKind::default, |(_, t, _, _)| TargetKind::of_mysql(t))
            })
            .collect())
    }
}
