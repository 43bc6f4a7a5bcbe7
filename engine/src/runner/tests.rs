//! Unit tests of the runner: retries, failure, cancellation, commit and abort, with test
//! plugins.

use super::*;
use crate::job::parse_job;
use crate::plugin::{ReaderTask, TaskContext, WriterTask};
use crate::{async_trait, PluginError};
use arrow_array::{Int64Array, RecordBatch};
use datasync_channel::{Batch, BatchReceiver, BatchSender};
use std::sync::atomic::AtomicUsize;

/// Reader whose task fails `fail_times` times (retriable or not) before producing 10 rows.
struct FlakyReader {
    fail_times: usize,
    retriable: bool,
    attempts: Arc<AtomicUsize>,
}
struct FlakyTask {
    fail_times: usize,
    retriable: bool,
    attempts: Arc<AtomicUsize>,
}
#[async_trait]
impl Reader for FlakyReader {
    async fn split(&self, _: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError> {
        Ok(vec![Box::new(FlakyTask {
            fail_times: self.fail_times,
            retriable: self.retriable,
            attempts: self.attempts.clone(),
        })])
    }
}
#[async_trait]
impl ReaderTask for FlakyTask {
    fn describe(&self) -> String {
        "flaky".into()
    }
    async fn read(&mut self, mut out: BatchSender, _ctx: TaskContext) -> Result<(), PluginError> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst);
        let batch = RecordBatch::try_from_iter(vec![(
            "a",
            Arc::new(Int64Array::from_iter_values(0..10)) as arrow_array::ArrayRef,
        )])
        .map_err(PluginError::new)?;
        out.send(Batch::new(batch)).await?;
        if n < self.fail_times {
            let e = std::io::Error::other("connection reset");
            return Err(PluginError::classified(self.retriable, e));
        }
        Ok(())
    }
}

#[derive(Default)]
struct Recorder {
    committed: AtomicUsize,
    aborted: AtomicUsize,
}
impl Recorder {
    /// (commits, aborts) so far.
    fn outcome(&self) -> (usize, usize) {
        (
            self.committed.load(Ordering::SeqCst),
            self.aborted.load(Ordering::SeqCst),
        )
    }
}
struct RecWriter(Arc<Recorder>);
struct RecTask;
#[async_trait]
impl Writer for RecWriter {
    async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError> {
        Ok((0..n)
            .map(|_| Box::new(RecTask) as Box<dyn WriterTask>)
            .collect())
    }
    async fn commit(&self) -> Result<(), PluginError> {
        self.0.committed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn abort(&self) -> Result<(), PluginError> {
        self.0.aborted.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
#[async_trait]
impl WriterTask for RecTask {
    fn retry_safe(&self) -> bool {
        true
    }
    async fn write(
        &mut self,
        mut input: BatchReceiver,
        ctx: TaskContext,
    ) -> Result<(), PluginError> {
        while let Some(b) = input.recv().await {
            ctx.counters.add_written(b.rows() as u64, b.bytes as u64);
        }
        Ok(())
    }
}

async fn run_flaky(fail_times: usize, retriable: bool) -> (Report, Arc<Recorder>, usize) {
    let text = r#"{"job": {"setting": {"retry": {"count": 2, "backoff": "10ms"}},
        "content": [{"reader": {"name": "x"}, "writer": {"name": "y"}}]}}"#;
    let spec = parse_job(text, "flaky", "flaky.json", &Default::default()).expect("valid job");
    let rec = Arc::new(Recorder::default());
    let attempts = Arc::new(AtomicUsize::new(0));
    let job = BuiltJob {
        missing: None,
        verify: None,
        spec,
        reader_name: "flaky",
        writer_name: "rec",
        reader: Box::new(FlakyReader {
            fail_times,
            retriable,
            attempts: attempts.clone(),
        }),
        writer: Box::new(RecWriter(rec.clone())),
    };
    let dir = std::env::temp_dir().join(format!("datasync-runner-test-{}", std::process::id()));
    let opts = RunOptions {
        metrics: None,
        full: false,
        resume: false,
        keep_staging: false,
        shard: None,
        dirty_file: dir.join("dirty.jsonl"),
        dirty_job: None,
        progress: ProgressMode::Off,
    };
    let report = run(job, opts, JobControl::new()).await;
    (report, rec, attempts.load(Ordering::SeqCst))
}

#[tokio::test]
async fn transient_failures_are_retried_and_counted_once() {
    let (r, rec, attempts) = run_flaky(2, true).await;
    assert_eq!(r.status, Status::Succeeded, "{:?}", r.error);
    assert_eq!((attempts, r.retries), (3, 2));
    // Rows of failed attempts are not counted twice.
    assert_eq!((r.records_read, r.records_written), (10, 10));
    assert_eq!(r.task_reports[0].attempts, 3);
    assert_eq!(rec.outcome(), (1, 0), "(commits, aborts)");
}

#[tokio::test]
async fn retries_are_bounded_and_failure_aborts() {
    let (r, rec, attempts) = run_flaky(5, true).await;
    assert_eq!((r.status, r.exit_code), (Status::Failed, 1));
    assert_eq!(attempts, 3, "1 try + 2 retries");
    assert!(
        r.error
            .as_deref()
            .unwrap_or_default()
            .contains("connection reset"),
        "{:?}",
        r.error
    );
    assert_eq!(rec.outcome(), (0, 1), "(commits, aborts)");
}

#[tokio::test]
async fn permanent_failures_are_not_retried() {
    let (r, _, attempts) = run_flaky(1, false).await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!((attempts, r.retries), (1, 0));
}
