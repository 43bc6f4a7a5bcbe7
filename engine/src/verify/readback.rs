//! Reading a target back through a reader plugin, taking its figures.

use super::{Figures, Tally};
use crate::dirty::DirtySink;
use crate::plugin::{PluginError, Reader, Side, TaskContext};
use datasync_channel::{batch_channel, ChannelCapacity, Counters, Throttle, ThrottleLimits};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Reads everything `reader` covers (at most `channels` tasks at once) into `tally` and
/// returns its figures. A value the reader cannot read fails the read-back (no dirty records
/// are allowed here); `cancel` stops it.
pub async fn read_target(
    reader: Box<dyn Reader>,
    tally: Arc<Tally>,
    channels: usize,
    cancel: CancellationToken,
) -> Result<Figures, String> {
    read_all(reader.as_ref(), tally.clone(), channels, cancel).await?;
    Ok(tally.figures())
}

/// Reads everything `reader` covers (at most `channels` tasks at once), showing every batch
/// to `tap` and dropping it. A value the reader cannot read is an error (no dirty records
/// are allowed here); `cancel` stops it.
pub async fn read_all(
    reader: &dyn Reader,
    tap: Arc<dyn datasync_channel::BatchTap>,
    channels: usize,
    cancel: CancellationToken,
) -> Result<(), String> {
    let tasks = reader
        .split(channels.max(1))
        .await
        .map_err(|e| format!("cannot plan the read-back: {}", e.chain()))?;
    let dirty_path = std::env::temp_dir().join(format!(
        "datasync-verify-{}-{}.dirty",
        crate::runner::run_id(),
        std::process::id()
    ));
    let dirty = Arc::new(DirtySink::new(dirty_path.clone(), Some(0), cancel.clone()));
    let throttle = Arc::new(Throttle::new(ThrottleLimits::default()));
    let gate = Arc::new(tokio::sync::Semaphore::new(channels.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (id, mut task) in tasks.into_iter().enumerate() {
        let counters = Arc::new(Counters::default());
        let (mut tx, mut rx) = batch_channel(
            ChannelCapacity::default(),
            throttle.clone(),
            counters.clone(),
        );
        tx.set_tap(tap.clone());
        let ctx = TaskContext {
            task_id: id,
            attempt: 1,
            side: Side::Reader,
            plugin: Arc::from("read-back"),
            counters,
            cancel: cancel.clone(),
            batch: crate::job::BatchSetting::default(),
            dirty: dirty.clone(),
        };
        let gate = gate.clone();
        let what = task.describe();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let drain = async move { while rx.recv().await.is_some() {} };
            let (res, ()) = tokio::join!(task.read(tx, ctx), drain);
            res.map_err(|e: PluginError| format!("reading back {what}: {}", e.chain()))
        });
    }
    let mut first_err = None;
    while let Some(r) = set.join_next().await {
        let r = r
            .map_err(|e| format!("a read-back task panicked: {e}"))
            .and_then(|x| x);
        if let Err(e) = r {
            cancel.cancel();
            first_err.get_or_insert(e);
        }
    }
    let sample = dirty.samples().into_iter().next();
    let _ = std::fs::remove_file(&dirty_path);
    if let Some((msg, _)) = sample {
        return Err(format!("a value cannot be read: {msg}"));
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    if cancel.is_cancelled() {
        return Err("stopped".into());
    }
    Ok(())
}
