//! Lock-free counters of one pipeline (or of a whole job, by summing snapshots).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Figures of one reader -> writer pipeline, updated by the channel, the reader and the writer.
#[derive(Debug, Default)]
pub struct Counters {
    records_read: AtomicU64,
    bytes_read: AtomicU64,
    records_written: AtomicU64,
    bytes_written: AtomicU64,
    dirty: AtomicU64,
    input_done: AtomicU64,
    reader_wait_ns: AtomicU64,
    writer_wait_ns: AtomicU64,
    throttle_wait_ns: AtomicU64,
    isolating: AtomicU64,
    isolation_ns: AtomicU64,
    isolating_since: std::sync::Mutex<Option<std::time::Instant>>,
    reader_blocked: AtomicBool,
    writer_starved: AtomicBool,
    /// The schema of the first batch that went through (for lineage).
    schema: std::sync::OnceLock<arrow_schema::SchemaRef>,
}

/// A copy of [`Counters`] at one instant; snapshots add up to job totals.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// Records the reader put into the channel.
    pub records_read: u64,
    /// Payload bytes the reader put into the channel.
    pub bytes_read: u64,
    /// Records the writer reported as landed in the target.
    pub records_written: u64,
    /// Payload bytes of the written records.
    pub bytes_written: u64,
    /// Dirty records (reader or writer side).
    pub dirty: u64,
    /// Progress through the task's known input size (records or bytes, as the split says).
    pub input_done: u64,
    /// Nanoseconds the reader waited on a full channel.
    pub reader_wait_ns: u64,
    /// Nanoseconds the writer waited on an empty channel.
    pub writer_wait_ns: u64,
    /// Nanoseconds the reader waited on the job's throttle.
    pub throttle_wait_ns: u64,
    /// Rows the writer is isolating right now (finding the bad rows of a rejected unit).
    pub isolating: u64,
    /// Nanoseconds the writer spent isolating bad rows (finished and ongoing).
    pub isolation_ns: u64,
    /// The reader is waiting on a full channel right now.
    pub reader_blocked: bool,
    /// The writer is waiting on an empty channel right now.
    pub writer_starved: bool,
}

impl Counters {
    /// Keeps the schema of the first batch.
    pub fn note_schema(&self, s: &arrow_schema::SchemaRef) {
        if self.schema.get().is_none() {
            let _ = self.schema.set(s.clone());
        }
    }

    /// The schema of the first batch that went through, if any did.
    pub fn schema(&self) -> Option<arrow_schema::SchemaRef> {
        self.schema.get().cloned()
    }

    /// Adds records and bytes the reader sent.
    pub fn add_read(&self, records: u64, bytes: u64) {
        self.records_read.fetch_add(records, Ordering::Relaxed);
        self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }
    /// Adds records and bytes the writer landed.
    pub fn add_written(&self, records: u64, bytes: u64) {
        self.records_written.fetch_add(records, Ordering::Relaxed);
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
    }
    /// Adds one dirty record.
    pub fn add_dirty(&self) {
        self.dirty.fetch_add(1, Ordering::Relaxed);
    }
    /// Says how many rows the writer is isolating now (0: none).
    pub fn set_isolating(&self, rows: u64) {
        self.isolating.store(rows, Ordering::Relaxed);
        if let Ok(mut since) = self.isolating_since.lock() {
            match (rows, *since) {
                (0, Some(t)) => {
                    self.isolation_ns
                        .fetch_add(nanos(t.elapsed()), Ordering::Relaxed);
                    *since = None;
                }
                (1.., None) => *since = Some(std::time::Instant::now()),
                _ => {}
            }
        }
    }
    /// Advances the progress through the task's known input size.
    pub fn add_input_done(&self, units: u64) {
        self.input_done.fetch_add(units, Ordering::Relaxed);
    }
    pub(crate) fn add_reader_wait(&self, d: Duration) {
        self.reader_wait_ns.fetch_add(nanos(d), Ordering::Relaxed);
    }
    pub(crate) fn add_writer_wait(&self, d: Duration) {
        self.writer_wait_ns.fetch_add(nanos(d), Ordering::Relaxed);
    }
    pub(crate) fn add_throttle_wait(&self, d: Duration) {
        self.throttle_wait_ns.fetch_add(nanos(d), Ordering::Relaxed);
    }
    pub(crate) fn set_reader_blocked(&self, v: bool) {
        self.reader_blocked.store(v, Ordering::Relaxed);
    }
    pub(crate) fn set_writer_starved(&self, v: bool) {
        self.writer_starved.store(v, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            records_read: self.records_read.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            records_written: self.records_written.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            dirty: self.dirty.load(Ordering::Relaxed),
            input_done: self.input_done.load(Ordering::Relaxed),
            reader_wait_ns: self.reader_wait_ns.load(Ordering::Relaxed),
            writer_wait_ns: self.writer_wait_ns.load(Ordering::Relaxed),
            throttle_wait_ns: self.throttle_wait_ns.load(Ordering::Relaxed),
            isolating: self.isolating.load(Ordering::Relaxed),
            isolation_ns: self.isolation_ns.load(Ordering::Relaxed)
                + self
                    .isolating_since
                    .lock()
                    .ok()
                    .and_then(|s| s.map(|t| nanos(t.elapsed())))
                    .unwrap_or(0),
            reader_blocked: self.reader_blocked.load(Ordering::Relaxed),
            writer_starved: self.writer_starved.load(Ordering::Relaxed),
        }
    }
}

impl std::ops::AddAssign for CountersSnapshot {
    fn add_assign(&mut self, o: Self) {
        self.records_read += o.records_read;
        self.bytes_read += o.bytes_read;
        self.records_written += o.records_written;
        self.bytes_written += o.bytes_written;
        self.isolation_ns += o.isolation_ns;
        self.dirty += o.dirty;
        self.input_done += o.input_done;
        self.reader_wait_ns += o.reader_wait_ns;
        self.writer_wait_ns += o.writer_wait_ns;
        self.throttle_wait_ns += o.throttle_wait_ns;
        self.isolating += o.isolating;
        self.reader_blocked |= o.reader_blocked;
        self.writer_starved |= o.writer_starved;
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_time_adds_up_finished_and_ongoing_spans() {
        let c = Counters::default();
        c.set_isolating(5);
        c.set_isolating(3); // still the same span
        std::thread::sleep(Duration::from_millis(20));
        c.set_isolating(0);
        let done = c.snapshot().isolation_ns;
        assert!(done >= 20_000_000, "{done}");
        c.set_isolating(0); // no span open: nothing added
        assert_eq!(c.snapshot().isolation_ns, done);
        c.set_isolating(1);
        std::thread::sleep(Duration::from_millis(5));
        assert!(c.snapshot().isolation_ns >= done + 5_000_000);
    }
}
