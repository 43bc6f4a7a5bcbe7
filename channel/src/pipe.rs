//! The bounded batch channel between one reader task and one writer task.

use crate::{Batch, Counters, Throttle};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// Capacity of one channel: a sender waits while either bound is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelCapacity {
    /// Batches in flight.
    pub batches: usize,
    /// Payload bytes in flight. A single batch larger than this still passes, alone.
    pub bytes: usize,
}

impl Default for ChannelCapacity {
    fn default() -> Self {
        ChannelCapacity {
            batches: 4,
            bytes: 64 << 20,
        }
    }
}

/// The receiving side is gone (the writer stopped); the reader should stop too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("batch channel closed: the writer side has stopped")
    }
}
impl std::error::Error for Closed {}

/// Sees every batch a reader sends (before the writer does), e.g. to take figures of the
/// data as it streams by.
pub trait BatchTap: Send + Sync + std::fmt::Debug {
    /// One batch that is about to be sent; `false` refuses it: the send fails as if the
    /// writer had gone (the tap has stopped the job and says why elsewhere).
    fn observe(&self, batch: &arrow_array::RecordBatch) -> bool;
}

/// Reader side of a batch channel. Sending counts records and bytes read, pays the job's
/// throttle and waits while the channel is full (back-pressure).
#[derive(Debug)]
pub struct BatchSender {
    tx: mpsc::Sender<(Batch, OwnedSemaphorePermit)>,
    bytes: Arc<Semaphore>,
    max_bytes: u32,
    throttle: Arc<Throttle>,
    counters: Arc<Counters>,
    tap: Option<Arc<dyn BatchTap>>,
}

/// Writer side of a batch channel.
#[derive(Debug)]
pub struct BatchReceiver {
    rx: mpsc::Receiver<(Batch, OwnedSemaphorePermit)>,
    counters: Arc<Counters>,
}

/// Creates a channel with the given capacity, sharing the job's throttle, counting into `counters`.
pub fn batch_channel(
    capacity: ChannelCapacity,
    throttle: Arc<Throttle>,
    counters: Arc<Counters>,
) -> (BatchSender, BatchReceiver) {
    let (tx, rx) = mpsc::channel(capacity.batches.max(1));
    let max_bytes = u32::try_from(capacity.bytes.max(1)).unwrap_or(u32::MAX >> 3);
    let max_bytes = max_bytes.min(Semaphore::MAX_PERMITS as u32);
    let sender = BatchSender {
        tx,
        bytes: Arc::new(Semaphore::new(max_bytes as usize)),
        max_bytes,
        throttle,
        counters: counters.clone(),
        tap: None,
    };
    (sender, BatchReceiver { rx, counters })
}

impl BatchSender {
    /// Sends one batch; waits on the throttle and while the channel is full.
    /// An empty batch is dropped. Fails only when the receiver is gone.
    pub async fn send(&mut self, batch: Batch) -> Result<(), Closed> {
        let rows = batch.rows() as u64;
        if rows == 0 {
            return Ok(());
        }
        if let Some(t) = &self.tap {
            if !t.observe(&batch.data) {
                return Err(Closed);
            }
        }
        let throttled = self.throttle.acquire(rows, batch.bytes as u64).await;
        if !throttled.is_zero() {
            self.counters.add_throttle_wait(throttled);
        }
        let want = u32::try_from(batch.bytes)
            .unwrap_or(u32::MAX)
            .clamp(1, self.max_bytes);
        let permit = match self.bytes.clone().try_acquire_many_owned(want) {
            Ok(p) => p,
            Err(_) => {
                let t = Instant::now();
                self.counters.set_reader_blocked(true);
                let p = self.bytes.clone().acquire_many_owned(want).await;
                self.counters.set_reader_blocked(false);
                self.counters.add_reader_wait(t.elapsed());
                p.map_err(|_| Closed)?
            }
        };
        let bytes = batch.bytes as u64;
        self.counters.note_schema(&batch.data.schema());
        match self.tx.try_send((batch, permit)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(Closed),
            Err(mpsc::error::TrySendError::Full(item)) => {
                let t = Instant::now();
                self.counters.set_reader_blocked(true);
                let r = self.tx.send(item).await;
                self.counters.set_reader_blocked(false);
                self.counters.add_reader_wait(t.elapsed());
                r.map_err(|_| Closed)?;
            }
        }
        self.counters.add_read(rows, bytes);
        Ok(())
    }

    /// [`send`](Self::send) from a blocking thread (inside `tokio::task::spawn_blocking`).
    pub fn send_blocking(&mut self, batch: Batch) -> Result<(), Closed> {
        // A receiver that is gone (the job stopped, the runtime may be shutting down) is
        // answered here, without the runtime's timers.
        if self.tx.is_closed() {
            return Err(Closed);
        }
        let handle = tokio::runtime::Handle::current();
        handle.block_on(self.send(batch))
    }

    /// The counters of this pipeline.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Shows every batch sent from now on to `tap`.
    pub fn set_tap(&mut self, tap: Arc<dyn BatchTap>) {
        self.tap = Some(tap);
    }
}

impl BatchReceiver {
    /// Next batch, or `None` once the reader has finished and the channel is drained.
    pub async fn recv(&mut self) -> Option<Batch> {
        match self.rx.try_recv() {
            Ok((b, _permit)) => Some(b),
            Err(mpsc::error::TryRecvError::Disconnected) => None,
            Err(mpsc::error::TryRecvError::Empty) => {
                let t = Instant::now();
                self.counters.set_writer_starved(true);
                let r = self.rx.recv().await;
                self.counters.set_writer_starved(false);
                self.counters.add_writer_wait(t.elapsed());
                r.map(|(b, _permit)| b)
            }
        }
    }

    /// [`recv`](Self::recv) from a blocking thread (inside `tokio::task::spawn_blocking`).
    pub fn recv_blocking(&mut self) -> Option<Batch> {
        // What is there, or a sender that is gone, is answered without the runtime.
        match self.rx.try_recv() {
            Ok((b, _permit)) => return Some(b),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        let handle = tokio::runtime::Handle::current();
        handle.block_on(self.recv())
    }

    /// The counters of this pipeline.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ThrottleLimits;
    use arrow_array::{Int64Array, RecordBatch};
    use std::time::Duration;

    fn batch(n: i64) -> Batch {
        let a = Int64Array::from_iter_values(0..n);
        Batch::new(RecordBatch::try_from_iter(vec![("a", Arc::new(a) as _)]).expect("valid batch"))
    }

    /// An unthrottled channel of `batches` batches and `bytes` bytes, and its counters.
    fn channel(batches: usize, bytes: usize) -> (BatchSender, BatchReceiver, Arc<Counters>) {
        let counters = Arc::new(Counters::default());
        let (tx, rx) = batch_channel(
            ChannelCapacity { batches, bytes },
            Arc::new(Throttle::new(ThrottleLimits::default())),
            counters.clone(),
        );
        (tx, rx, counters)
    }

    #[tokio::test]
    async fn full_channel_makes_sender_wait_and_counts_it() {
        let (mut tx, mut rx, counters) = channel(2, 1 << 20);
        tx.send(batch(10)).await.expect("open");
        tx.send(batch(10)).await.expect("open");
        // Third send must wait until the receiver takes one.
        let third = tokio::time::timeout(Duration::from_millis(100), tx.send(batch(10))).await;
        assert!(third.is_err(), "third send should block on a full channel");
        let h = tokio::spawn(async move {
            tx.send(batch(10)).await.expect("open");
            tx
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(counters.snapshot().reader_blocked);
        assert_eq!(rx.recv().await.map(|b| b.rows()), Some(10));
        let tx = h.await.expect("join");
        drop(tx);
        let mut n = 1;
        while rx.recv().await.is_some() {
            n += 1;
        }
        assert_eq!(n, 3);
        let s = counters.snapshot();
        assert_eq!(s.records_read, 30);
        assert!(s.reader_wait_ns >= 40_000_000, "{s:?}");
    }

    #[tokio::test]
    async fn byte_capacity_bounds_memory_in_flight() {
        // Each batch is 800 bytes; room for one only.
        let (mut tx, mut rx, _) = channel(100, 1000);
        tx.send(batch(100)).await.expect("open");
        let second = tokio::time::timeout(Duration::from_millis(100), tx.send(batch(100))).await;
        assert!(second.is_err(), "second batch should not fit in 1000 bytes");
        assert!(rx.recv().await.is_some());
        tokio::time::timeout(Duration::from_millis(100), tx.send(batch(100)))
            .await
            .expect("room again")
            .expect("open");
        // A batch bigger than the whole capacity still passes alone.
        drop(rx.recv().await);
        tx.send(batch(1000))
            .await
            .expect("oversized batch passes alone");
    }

    #[tokio::test]
    async fn closed_receiver_stops_sender() {
        let c = ChannelCapacity::default();
        let (mut tx, rx, _) = channel(c.batches, c.bytes);
        drop(rx);
        assert_eq!(tx.send(batch(1)).await, Err(Closed));
    }
}
