//! One pipeline: a reader task into a writer task over a bounded channel, each attempt on its
//! own tokio tasks, retried where the writer allows; a finished task recorded in the run
//! state.

use super::Env;
use crate::control::StopReason;
use crate::plugin::{Cancelled, PluginError, ReaderTask, Side, TaskContext, WriterTask};
use crate::progress::{DONE, RUNNING};
use crate::report::{TaskReport, TaskState};
use crate::runstate::TaskDone;
use datasync_channel::{batch_channel, Counters};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// How long a stopping job lets a writer task reach its next batch boundary.
const WRITER_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// What one attempt of a pipeline gives back: both tasks (for a retry) and the error that
/// ended it, with its side; `Err` when a task panicked.
type Attempt = Result<
    (
        Box<dyn ReaderTask>,
        Box<dyn WriterTask>,
        Option<(Side, PluginError)>,
    ),
    String,
>;

/// Runs one attempt: the reader and the writer task on their own tokio tasks, joined by a
/// fresh bounded channel counted by `counters`.
async fn run_attempt(
    id: usize,
    attempt: u32,
    mut r: Box<dyn ReaderTask>,
    mut w: Box<dyn WriterTask>,
    env: &Env,
    counters: &Arc<Counters>,
) -> Attempt {
    let cancel = env.control.cancel.clone();
    let (mut tx, rx) = batch_channel(env.capacity, env.throttle.clone(), counters.clone());
    if let Some((template, cells)) = &env.tallies {
        // A retry starts its figures afresh, as it starts its output.
        let t = Arc::new(template.fresh());
        if let Some(Ok(mut cell)) = cells.get(id).map(|c| c.lock()) {
            *cell = Some(t.clone());
        }
        tx.set_tap(t);
    }
    let ctx = |side, plugin: &Arc<str>| TaskContext {
        task_id: env.task_numbers.get(id).copied().unwrap_or(id),
        attempt,
        side,
        plugin: plugin.clone(),
        counters: counters.clone(),
        cancel: cancel.clone(),
        batch: env.spec.setting.batch,
        dirty: env.dirty.clone(),
    };
    let rctx = ctx(Side::Reader, &env.reader_name);
    let wctx = ctx(Side::Writer, &env.writer_name);
    let rh = tokio::spawn(async move {
        let cancel = rctx.cancel.clone();
        let res = tokio::select! {
            res = r.read(tx, rctx) => res,
            _ = cancel.cancelled() => Err(PluginError::new(Cancelled)),
        };
        (r, res)
    });
    let wh = tokio::spawn(async move {
        let cancel = wctx.cancel.clone();
        let res = {
            let write = w.write(rx, wctx);
            tokio::pin!(write);
            tokio::select! {
                res = &mut write => res,
                // The writer stops at its next batch boundary (it checks cancellation there,
                // and its input ends with the reader): a unit it is committing is finished and
                // counted, not cut off with its outcome unknown. A writer stuck on its target
                // is dropped after the grace period.
                _ = cancel.cancelled() => {
                    match tokio::time::timeout(WRITER_STOP_GRACE, &mut write).await {
                        Ok(res) => res,
                        Err(_) => Err(PluginError::new(Cancelled)),
                    }
                }
            }
        };
        (w, res)
    });
    let (rj, wj) = (rh.await, wh.await);
    let ((r, rres), (w, wres)) = match (rj, wj) {
        (Ok(rr), Ok(ww)) => (rr, ww),
        (rj, wj) => {
            return Err(format!(
                "task {id} panicked: {}",
                [rj.err(), wj.err()]
                    .into_iter()
                    .flatten()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        }
    };
    // The writer's error is the cause when the reader only saw the channel close.
    let err = match (rres, wres) {
        (Ok(()), Ok(())) => None,
        (Err(re), Ok(())) => Some((Side::Reader, re)),
        (Ok(()), Err(we)) => Some((Side::Writer, we)),
        (Err(re), Err(we)) => {
            if re.is::<datasync_channel::Closed>() || re.is::<Cancelled>() {
                Some((Side::Writer, we))
            } else {
                Some((Side::Reader, re))
            }
        }
    };
    Ok((r, w, err))
}

/// Runs one reader task into one writer task, retrying where safe.
pub(super) async fn pipeline(
    id: usize,
    mut r: Box<dyn ReaderTask>,
    mut w: Box<dyn WriterTask>,
    env: Arc<Env>,
) -> TaskReport {
    let slot = &env.slots[id];
    let mut rep = TaskReport {
        id,
        source: slot.source.clone(),
        attempts: 0,
        state: TaskState::NotStarted,
        records_read: 0,
        records_written: 0,
        bytes_read: 0,
        dirty: 0,
        seconds: 0.0,
        reader_wait_seconds: 0.0,
        writer_wait_seconds: 0.0,
        error: None,
    };
    let cancel = env.control.cancel.clone();
    let _permit = tokio::select! {
        p = env.semaphore.acquire() => match p { Ok(p) => p, Err(_) => return rep },
        _ = cancel.cancelled() => return rep,
    };
    slot.state.store(RUNNING, Ordering::Relaxed);
    let retry = &env.spec.setting.retry;
    let mut attempt = 1u32;
    loop {
        let started = Instant::now();
        let counters = Arc::new(Counters::default());
        if let Ok(mut c) = slot.counters.lock() {
            *c = counters.clone();
        }
        let attempt_result = run_attempt(id, attempt, r, w, &env, &counters).await;
        let snap = counters.snapshot();
        rep.attempts = attempt;
        rep.records_read = snap.records_read;
        rep.records_written = snap.records_written;
        rep.bytes_read = snap.bytes_read;
        rep.dirty = snap.dirty;
        rep.seconds = started.elapsed().as_secs_f64();
        rep.reader_wait_seconds = snap.reader_wait_ns as f64 / 1e9;
        rep.writer_wait_seconds = snap.writer_wait_ns as f64 / 1e9;
        let err = match attempt_result {
            Ok((rb, wb, err)) => {
                r = rb;
                w = wb;
                err
            }
            Err(msg) => {
                env.control.stop(StopReason::Failed(msg.clone()));
                rep.state = TaskState::Failed;
                rep.error = Some(msg);
                break;
            }
        };
        let Some((side, e)) = err else {
            rep.state = TaskState::Succeeded;
            break;
        };
        if cancel.is_cancelled() || e.is::<Cancelled>() || e.is::<crate::dirty::DirtyError>() {
            rep.state = TaskState::Cancelled;
            break;
        }
        let plugin = match side {
            Side::Reader => &env.reader_name,
            Side::Writer => &env.writer_name,
        };
        // The task report names the task and its source itself: its error starts at the side.
        let cause = format!("{side} {plugin}: {}", e.chain());
        let msg = format!("task {id} ({}) {cause}", slot.source);
        if e.is_retriable() && w.retry_safe() && attempt <= retry.count {
            let wait = retry.backoff.0 * 2u32.saturating_pow(attempt - 1);
            tracing::warn!(
                "{msg}; retrying in {wait:?} (attempt {} of {})",
                attempt + 1,
                retry.count + 1
            );
            env.retries.fetch_add(1, Ordering::Relaxed);
            env.dirty.forget(snap.dirty);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => { rep.state = TaskState::Cancelled; break; }
            }
            attempt += 1;
            continue;
        }
        // Not logged here: the summary's error line says it, once.
        tracing::debug!("{msg}");
        env.control.stop(StopReason::Failed(msg.clone()));
        rep.state = TaskState::Failed;
        rep.error = Some(cause);
        break;
    }
    slot.state.store(DONE, Ordering::Relaxed);
    rep
}

/// Records a finished task in the run state (atomically replaced). A state that cannot be
/// written loses nothing: a resume would run the task again.
pub(super) fn record_done(env: &Env, rep: &TaskReport, output: Option<String>) {
    let Some(state) = &env.state else { return };
    let Ok(mut guard) = state.lock() else { return };
    let (path, st) = &mut *guard;
    let snap = env.slots[rep.id].snapshot();
    st.tasks.insert(
        rep.id,
        TaskDone {
            source: rep.source.clone(),
            records_read: rep.records_read,
            records_written: rep.records_written,
            bytes_read: rep.bytes_read,
            bytes_written: snap.bytes_written,
            dirty: rep.dirty,
            output,
            input: env.inputs.get(rep.id).cloned().flatten(),
            figures: env.tallies.as_ref().and_then(|(_, cells)| {
                let t = cells.get(rep.id)?.lock().ok()?.clone()?;
                serde_json::to_value(t.figures()).ok()
            }),
        },
    );
    if let Err(e) = crate::runstate::save(path, st) {
        tracing::warn!("{e}; a resume of this run would run task {} again", rep.id);
    }
}
