//! `datasync diff JOB`: compares, by key, the rows a job's reader reads with the rows in its
//! writer's published target (read with the same system's reader, see
//! [`crate::plugin::Writer::read_published`]).
//!
//! Both sides are read at once, each through its plugin's tasks. Every row becomes its key
//! (the canonical values of the key columns) and a 64-bit hash of each compared column's
//! canonical value (see [`crate::verify::canon`]), so values that the writers convert (an INT
//! into a BIGINT, a DECIMAL into another scale) are equal. A row is dropped as soon as the
//! other side brings the same key with the same hashes: memory holds only the rows not yet
//! matched. What is left at the end is missing (source only), extra (target only) or
//! different (the columns whose hashes differ).

use crate::plugin::{ReadBack, Reader};
use crate::registry::{Params, Registry};
use crate::runner::BuiltJob;
use crate::verify::canon::{Column, Fnv};
use crate::verify::{find_column, position_of};
use arrow_array::RecordBatch;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// What to compare.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// The key columns, as the reader names them.
    pub key: Vec<String>,
    /// Tasks read at once per side.
    pub channels: usize,
    /// A condition selecting the target rows to compare (SQL targets).
    pub target_where: Option<String>,
}

/// One difference.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Difference {
    /// `missing` (a row in the source only), `extra` (in the target only) or `different`.
    /// A key several rows share is compared as a multiset: equal rows pair off, the rest
    /// pair up as different, and a surplus on one side is missing or extra.
    pub kind: &'static str,
    /// The key: column name -> canonical value.
    pub key: serde_json::Map<String, serde_json::Value>,
    /// `different`: the columns whose values differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
}

/// The outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffSummary {
    /// Rows read from the source.
    pub source_rows: u64,
    /// Rows read from the target.
    pub target_rows: u64,
    /// Rows equal on both sides.
    pub same: u64,
    /// Keys in the source only.
    pub missing: u64,
    /// Keys in the target only.
    pub extra: u64,
    /// Rows that differ.
    pub different: u64,
    /// Keys several rows of one side share.
    pub repeated_keys: u64,
    /// The columns compared (as the reader names them).
    pub columns: Vec<String>,
}

/// The rows of one key not matched yet, per side.
#[derive(Default)]
struct Pending {
    rows: [Vec<Box<[u64]>>; 2],
    key: Vec<Option<String>>,
}

#[derive(Default)]
struct State {
    pending: HashMap<Vec<u8>, Pending>,
    rows: [u64; 2],
    same: u64,
    /// Keys that came again on a side while rows of theirs were pending there.
    repeated: std::collections::HashSet<Vec<u8>>,
    error: Option<String>,
}

/// One side's tap: finds the key and compared columns in each batch by name.
#[derive(Debug)]
struct SideTap {
    side: usize,
    key: Vec<String>,
    columns: Vec<String>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("diff state")
    }
}

impl SideTap {
    fn take(&self, batch: &RecordBatch) -> Result<(), String> {
        let keys = self
            .key
            .iter()
            .map(|k| find_column(batch, k))
            .collect::<Result<Vec<_>, _>>()?;
        let cols = self
            .columns
            .iter()
            .map(|c| find_column(batch, c))
            .collect::<Result<Vec<_>, _>>()?;
        let keys: Vec<Column<'_>> = keys.iter().map(|i| Column::of(batch, *i)).collect();
        let cols: Vec<Column<'_>> = cols.iter().map(|i| Column::of(batch, *i)).collect();
        let mut rows = Vec::with_capacity(batch.num_rows());
        for r in 0..batch.num_rows() {
            let mut bytes = Vec::new();
            let mut shown = Vec::with_capacity(keys.len());
            for k in &keys {
                let v = k.get(r);
                // The key's identity: its canonical encoding (kind and value).
                match &v {
                    Some(v) => {
                        let mut h = Fnv::default();
                        v.hash_into(&mut h);
                        bytes.push(1);
                        bytes.extend_from_slice(&h.0.to_le_bytes());
                        let t = v.show();
                        bytes.extend_from_slice(t.as_bytes());
                        shown.push(Some(t));
                    }
                    None => {
                        bytes.push(0);
                        shown.push(None);
                    }
                }
                bytes.push(0xff);
            }
            let hashes: Vec<u64> = cols
                .iter()
                .map(|c| {
                    let mut h = Fnv::default();
                    match c.get(r) {
                        Some(v) => v.hash_into(&mut h),
                        None => h.byte(0),
                    }
                    h.0
                })
                .collect();
            rows.push((bytes, shown, hashes));
        }
        let mut guard = self
            .state
            .lock()
            .map_err(|_| "the diff state is poisoned".to_string())?;
        let st = &mut *guard;
        let (side, other) = (self.side, 1 - self.side);
        st.rows[side] += rows.len() as u64;
        for (bytes, shown, hashes) in rows {
            let hashes: Box<[u64]> = hashes.into_boxed_slice();
            match st.pending.get_mut(&bytes) {
                Some(e) => {
                    if !e.rows[side].is_empty() {
                        st.repeated.insert(bytes.clone());
                    }
                    match e.rows[other].iter().position(|h| *h == hashes) {
                        // Matched: the pair is done.
                        Some(i) => {
                            e.rows[other].swap_remove(i);
                            st.same += 1;
                            if e.rows[0].is_empty() && e.rows[1].is_empty() {
                                st.pending.remove(&bytes);
                            }
                        }
                        None => e.rows[side].push(hashes),
                    }
                }
                None => {
                    let mut p = Pending {
                        key: shown,
                        ..Pending::default()
                    };
                    p.rows[side].push(hashes);
                    st.pending.insert(bytes, p);
                }
            }
        }
        Ok(())
    }
}

impl datasync_channel::BatchTap for SideTap {
    fn observe(&self, batch: &RecordBatch) -> bool {
        if let Err(e) = self.take(batch) {
            if let Ok(mut st) = self.state.lock() {
                st.error.get_or_insert(e);
            }
            return false;
        }
        true
    }
}

/// Compares the job's source with its writer's published target. Returns the summary and
/// every difference, ordered by key.
pub async fn diff(
    job: &BuiltJob,
    registry: &Registry,
    opts: &DiffOptions,
) -> Result<(DiffSummary, Vec<Difference>), String> {
    let cancel = CancellationToken::new();
    if opts.key.is_empty() {
        return Err("name the key column(s) with --key".into());
    }
    let (plugin, parameter, mapping, filters) =
        match job.writer.read_published(opts.target_where.as_deref()) {
            ReadBack::Reader {
                plugin,
                parameter,
                columns,
                filters,
                ..
            } => (plugin, parameter, columns, filters),
            ReadBack::Unavailable(why) => {
                return Err(format!("the {} writer: {why}", job.writer_name));
            }
        };
    if opts.target_where.is_some() && !filters {
        return Err(format!(
            "--target-where applies to SQL targets; the {} writer's target is files",
            job.writer_name
        ));
    }
    let entry = registry.reader(plugin, "diff").map_err(|e| e.to_string())?;
    let target: Box<dyn Reader> = (entry.build)(Params::new(&parameter, "diff (target)", plugin))
        .map_err(|e| e.to_string())?;
    if let Some(inc) = job.reader.incremental() {
        // The whole source, not the next window.
        inc.set_full();
    }
    // The compared columns: the source's names and their target names. Without a writer
    // column list, the reader's names are the target's; they are found in the first batch.
    let source_names = source_columns(job).await?;
    let pairs: Vec<(String, String)> = if mapping.is_empty() {
        source_names
            .iter()
            .map(|n| (n.clone(), n.clone()))
            .collect()
    } else {
        source_names
            .iter()
            .zip(&mapping)
            .filter_map(|(s, t)| t.clone().map(|t| (s.clone(), t)))
            .collect()
    };
    let unread: Vec<&String> = source_names
        .iter()
        .zip(&mapping)
        .filter(|(_, t)| t.is_none())
        .map(|(s, _)| s)
        .collect();
    if !unread.is_empty() {
        tracing::warn!(
            "not compared: {} (Hive partition columns, which the target holds as directory \
             names)",
            unread
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(k) = opts
        .key
        .iter()
        .find(|k| !seen.insert(k.to_ascii_lowercase()))
    {
        return Err(format!("--key names {k} twice"));
    }
    let target_name = |s: &str| -> Result<String, String> {
        position_of(pairs.iter().map(|(a, _)| a.as_str()), s)
            .map(|i| pairs[i].1.clone())
            .ok_or_else(|| {
                format!(
                    "key column {s} is not among the compared columns ({})",
                    pairs
                        .iter()
                        .map(|(a, _)| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    };
    let target_key = opts
        .key
        .iter()
        .map(|k| target_name(k))
        .collect::<Result<Vec<_>, _>>()?;
    let state = Arc::new(Mutex::new(State::default()));
    let source_tap = Arc::new(SideTap {
        side: 0,
        key: opts.key.clone(),
        columns: pairs.iter().map(|(s, _)| s.clone()).collect(),
        state: state.clone(),
    });
    let target_tap = Arc::new(SideTap {
        side: 1,
        key: target_key,
        columns: pairs.iter().map(|(_, t)| t.clone()).collect(),
        state: state.clone(),
    });
    let channels = opts.channels.max(1);
    let (a, b) = tokio::join!(
        crate::verify::read_all(job.reader.as_ref(), source_tap, channels, cancel.clone()),
        crate::verify::read_all(target.as_ref(), target_tap, channels, cancel.clone())
    );
    a.map_err(|e| format!("reading the source: {e}"))?;
    b.map_err(|e| format!("reading the target: {e}"))?;
    let st = std::mem::take(
        &mut *state
            .lock()
            .map_err(|_| "the diff state is poisoned".to_string())?,
    );
    if let Some(e) = st.error {
        return Err(e);
    }
    let names: Vec<String> = pairs.iter().map(|(s, _)| s.clone()).collect();
    let key_map = |shown: &[Option<String>]| -> serde_json::Map<String, serde_json::Value> {
        opts.key
            .iter()
            .zip(shown)
            .map(|(k, v)| {
                let v = v
                    .clone()
                    .map_or(serde_json::Value::Null, serde_json::Value::String);
                (k.clone(), v)
            })
            .collect()
    };
    let mut out = Vec::new();
    let mut sum = DiffSummary {
        source_rows: st.rows[0],
        target_rows: st.rows[1],
        same: st.same,
        columns: names.clone(),
        ..DiffSummary::default()
    };
    sum.repeated_keys = st.repeated.len() as u64;
    for (_, p) in st.pending {
        let [src, tgt] = p.rows;
        let paired = src.len().min(tgt.len());
        for (a, b) in src.iter().zip(&tgt) {
            sum.different += 1;
            out.push((
                p.key.clone(),
                Difference {
                    kind: "different",
                    key: key_map(&p.key),
                    columns: names
                        .iter()
                        .zip(a.iter().zip(b.iter()))
                        .filter(|(_, (x, y))| x != y)
                        .map(|(n, _)| n.clone())
                        .collect(),
                },
            ));
        }
        for (kind, n) in [
            ("missing", src.len() - paired),
            ("extra", tgt.len() - paired),
        ] {
            for _ in 0..n {
                if kind == "missing" {
                    sum.missing += 1;
                } else {
                    sum.extra += 1;
                }
                out.push((
                    p.key.clone(),
                    Difference {
                        kind,
                        key: key_map(&p.key),
                        columns: Vec::new(),
                    },
                ));
            }
        }
    }
    out.sort_by(|(a, x), (b, y)| key_order(a, b).then_with(|| x.kind.cmp(y.kind)));
    if sum.same == 0 && sum.different == 0 && sum.missing > 0 && sum.extra > 0 {
        tracing::warn!(
            "no key of the source matched one of the target: are the key columns {} of the same \
             type on both sides (a number does not match the same digits as text)?",
            opts.key.join(", ")
        );
    }
    Ok((sum, out.into_iter().map(|(_, d)| d).collect()))
}

/// Keys in order: NULL first, numbers by value, the rest as text.
fn key_order(a: &[Option<String>], b: &[Option<String>]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Some(x), Some(y)) => match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(p), Ok(q)) => p.total_cmp(&q),
                _ => x.cmp(y),
            },
            _ => x.cmp(y),
        };
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// The reader's column names, from its probe when it knows them, else from its first batch.
async fn source_columns(job: &BuiltJob) -> Result<Vec<String>, String> {
    let p = job
        .reader
        .probe()
        .await
        .map_err(|e| format!("the {} reader: {}", job.reader_name, e.chain()))?;
    let problems: Vec<String> = p
        .lines
        .iter()
        .filter(|l| !l.2)
        .map(|(what, found, _)| format!("{what}: {found}"))
        .collect();
    if !problems.is_empty() {
        return Err(format!(
            "the {} reader's source: {}",
            job.reader_name,
            problems.join("; ")
        ));
    }
    if let Some(cols) = p.columns {
        return Ok(cols.into_iter().map(|(n, _)| n).collect());
    }
    Err(format!(
        "the {} reader cannot name its columns before reading (no live check)",
        job.reader_name
    ))
}
