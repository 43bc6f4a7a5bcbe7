//! The run report: a human summary for stderr and the same figures as JSON (`--report FILE`).

use serde::Serialize;

/// How the job ended; each maps to one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every task finished, output committed. Exit 0.
    Succeeded,
    /// A task or job step failed, or the job stalled with `stallAction: fail`. Exit 1.
    Failed,
    /// Too many dirty records. Exit 3.
    ErrorLimitExceeded,
    /// SIGINT (exit 130) or SIGTERM (exit 143).
    Interrupted,
    /// A strong `job.verify` rule found the target's figures differ from the rows read.
    /// Exit 4.
    VerificationFailed,
}

/// How a pipeline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// The job stopped before the task started.
    NotStarted,
    /// Read and written whole.
    Succeeded,
    /// Failed (the job fails).
    Failed,
    /// Stopped because the job stopped.
    Cancelled,
    /// Finished by the run this one resumed; not run again.
    Resumed,
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TaskState::NotStarted => "not_started",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
            TaskState::Resumed => "resumed",
        })
    }
}

impl TaskReport {
    /// A task the resumed run had finished, with its recorded figures.
    pub(crate) fn resumed(id: usize, d: &crate::runstate::TaskDone) -> TaskReport {
        TaskReport {
            id,
            source: d.source.clone(),
            attempts: 0,
            state: TaskState::Resumed,
            records_read: d.records_read,
            records_written: d.records_written,
            bytes_read: d.bytes_read,
            dirty: d.dirty,
            seconds: 0.0,
            reader_wait_seconds: 0.0,
            writer_wait_seconds: 0.0,
            error: None,
        }
    }
}

/// Figures of one pipeline (its last attempt).
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    /// Task number.
    pub id: usize,
    /// What the reader task covered.
    pub source: String,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
    /// How it ended.
    pub state: TaskState,
    /// Records read.
    pub records_read: u64,
    /// Records written.
    pub records_written: u64,
    /// Payload bytes read.
    pub bytes_read: u64,
    /// Dirty records.
    pub dirty: u64,
    /// Seconds from start to end of the last attempt.
    pub seconds: f64,
    /// Seconds the reader waited on a full channel (the writer was slower).
    pub reader_wait_seconds: f64,
    /// Seconds the writer waited on an empty channel (the reader was slower).
    pub writer_wait_seconds: f64,
    /// The task's error, if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One distinct dirty-record message and how many records had it.
#[derive(Debug, Clone, Serialize)]
pub struct DirtySample {
    /// The first message of its kind.
    pub error: String,
    /// Records with a message of this kind (the same but for the quoted value).
    pub count: u64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Job name.
    pub job: String,
    /// Unique id of this run.
    pub run_id: String,
    /// Outcome.
    pub status: Status,
    /// Process exit code for this outcome.
    pub exit_code: i32,
    /// Why the job did not succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Reader plugin.
    pub reader: String,
    /// Writer plugin.
    pub writer: String,
    /// Start, RFC 3339.
    pub start: String,
    /// End, RFC 3339.
    pub end: String,
    /// Wall time in seconds.
    pub duration_seconds: f64,
    /// Pipelines run at once.
    pub channels: usize,
    /// Where `channels` came from.
    pub channels_source: String,
    /// Number of tasks planned.
    pub tasks: usize,
    /// Records read.
    pub records_read: u64,
    /// Records written.
    pub records_written: u64,
    /// Payload bytes read.
    pub bytes_read: u64,
    /// Payload bytes written.
    pub bytes_written: u64,
    /// Dirty records.
    pub dirty_records: u64,
    /// The dirty-record file, when any was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty_file: Option<String>,
    /// The first distinct dirty-record messages (up to three), with how many records had each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dirty_samples: Vec<DirtySample>,
    /// What a plugin said the user must know about this run's outcome (see [`warn`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Whether `job.setting.errorLimit` sets a limit (absent: DataX's default, none).
    #[serde(skip)]
    pub error_limit_set: bool,
    /// Task retries made.
    pub retries: u32,
    /// Records written per second.
    pub records_per_second: f64,
    /// Megabytes (10^6) written per second.
    pub mb_per_second: f64,
    /// Total seconds readers waited on full channels.
    pub reader_wait_seconds: f64,
    /// Total seconds writers waited on empty channels.
    pub writer_wait_seconds: f64,
    /// Total seconds readers waited on the throttle.
    pub throttle_wait_seconds: f64,
    /// Total seconds writers spent isolating the bad rows of rejected units.
    pub isolation_seconds: f64,
    /// Per task.
    pub task_reports: Vec<TaskReport>,
    /// Container-task mode: `shard I/N of planned run R`; the output is staged, not
    /// published (`datasync commit` publishes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Container-task mode: each task's staged output as the writer sees it.
    #[serde(skip)]
    pub staged: Vec<(usize, Option<String>)>,
    /// A run that did not succeed with a writer that stages its output: what became of the
    /// rows `records_written` counts (the summary says so beside them).
    #[serde(skip)]
    pub unpublished: Option<&'static str>,
    /// The columns that went through (name, type), from the first batch; empty when none did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<(String, String)>,
    /// `job.verify`: each rule, both figures and its verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<crate::verify::RuleOutcome>,
    /// Container-task mode with `job.verify`: each task's reader-side figures (plan task
    /// number), for the shard's report; `datasync commit` compares their sum.
    #[serde(skip)]
    pub task_figures: Vec<(usize, crate::verify::Figures)>,
}

impl Report {
    /// The report of a run that starts now: succeeded so far, no figures yet.
    pub(crate) fn begin(
        spec: &crate::job::JobSpec,
        reader: &str,
        writer: &str,
        run_id: &str,
        channels: usize,
    ) -> Report {
        Report {
            job: spec.name.clone(),
            run_id: run_id.to_string(),
            status: Status::Succeeded,
            exit_code: 0,
            error: None,
            reader: reader.to_string(),
            writer: writer.to_string(),
            start: chrono::Utc::now().to_rfc3339(),
            end: String::new(),
            duration_seconds: 0.0,
            channels,
            channels_source: match spec.setting.speed.channel {
                Some(_) => "job.setting.speed.channel".to_string(),
                None => "default: job.setting.speed.channel unset".to_string(),
            },
            tasks: 0,
            records_read: 0,
            records_written: 0,
            bytes_read: 0,
            bytes_written: 0,
            dirty_records: 0,
            dirty_file: None,
            dirty_samples: Vec::new(),
            warnings: Vec::new(),
            error_limit_set: spec.setting.error_limit.record.is_some()
                || spec.setting.error_limit.percentage.is_some(),
            retries: 0,
            records_per_second: 0.0,
            mb_per_second: 0.0,
            reader_wait_seconds: 0.0,
            writer_wait_seconds: 0.0,
            throttle_wait_seconds: 0.0,
            isolation_seconds: 0.0,
            task_reports: Vec::new(),
            shard: None,
            staged: Vec::new(),
            unpublished: None,
            columns: Vec::new(),
            verify: Vec::new(),
            task_figures: Vec::new(),
        }
    }

    /// Which side limited throughput, from the wait times.
    pub fn bottleneck(&self) -> String {
        let waits = self.reader_wait_seconds.max(self.writer_wait_seconds);
        if self.isolation_seconds > 0.0
            && self.isolation_seconds >= waits.max(self.throttle_wait_seconds)
        {
            // Isolation keeps the writer busy: its reader may wait or not, as channels allow.
            format!(
                "the writer, isolating dirty rows ({:.2}s)",
                self.isolation_seconds
            )
        } else if self.throttle_wait_seconds > self.reader_wait_seconds
            && self.throttle_wait_seconds * 2.0 >= self.writer_wait_seconds
        {
            // A throttled reader leaves the writer waiting on an empty channel too.
            "the speed limit (job.setting.speed)".into()
        } else if self.reader_wait_seconds > self.writer_wait_seconds * 2.0 {
            if self.isolation_seconds > 0.0 {
                format!(
                    "the writer (readers waited on full channels; it spent {:.2}s isolating \
                     dirty rows)",
                    self.isolation_seconds
                )
            } else {
                "the writer (readers waited on full channels)".into()
            }
        } else if self.writer_wait_seconds > self.reader_wait_seconds * 2.0 {
            "the reader (writers waited on empty channels)".into()
        } else {
            "balanced".into()
        }
    }

    /// The human summary.
    pub fn human(&self) -> String {
        let status = match self.status {
            Status::Succeeded if self.shard.is_some() => "STAGED (not published yet)",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::ErrorLimitExceeded => "FAILED (error limit exceeded)",
            Status::Interrupted => "INTERRUPTED",
            Status::VerificationFailed => "FAILED (verification failed)",
        };
        let mut s = String::new();
        if self.dirty_records > 0 && self.status == Status::Succeeded {
            s.push_str(&format!(
                "datasync: warning: {} dirty record(s) were not written; they are in {}{}\n",
                self.dirty_records,
                self.dirty_file
                    .as_deref()
                    .unwrap_or("the dirty-record file"),
                if self.error_limit_set {
                    ""
                } else {
                    " (no job.setting.errorLimit: DataX's default, no limit)"
                }
            ));
        }
        s.push_str(&format!(
            "datasync: job {} {} in {:.2}s (exit {})\n",
            self.job, status, self.duration_seconds, self.exit_code
        ));
        if let Some(e) = &self.error {
            s.push_str(&format!("  error     {e}\n"));
        }
        s.push_str(&format!(
            "  plugins   {} -> {}   run {}\n",
            self.reader, self.writer, self.run_id
        ));
        if let Some(shard) = &self.shard {
            s.push_str(&format!("  shard     {shard}\n"));
        }
        s.push_str(&format!("  time      {} .. {}\n", self.start, self.end));
        s.push_str(&format!(
            "  records   read {}  written {}{}  dirty {}\n",
            self.records_read,
            self.records_written,
            self.unpublished
                .map(|u| format!(" ({u})"))
                .unwrap_or_default(),
            self.dirty_records
        ));
        s.push_str(&format!(
            "  bytes     read {}  written {}\n",
            human_bytes(self.bytes_read),
            human_bytes(self.bytes_written)
        ));
        s.push_str(&format!(
            "  rate      {:.0} records/s  {:.2} MB/s\n",
            self.records_per_second, self.mb_per_second
        ));
        s.push_str(&format!(
            "  parallel  {} channel(s) ({})  {} task(s)  {} retries\n",
            self.channels, self.channels_source, self.tasks, self.retries
        ));
        s.push_str(&format!(
            "  waits     reader on full channel {:.2}s  writer on empty channel {:.2}s  throttle {:.2}s{}  -> bottleneck: {}\n",
            self.reader_wait_seconds,
            self.writer_wait_seconds,
            self.throttle_wait_seconds,
            if self.isolation_seconds > 0.0 {
                format!("  writer isolating dirty rows {:.2}s", self.isolation_seconds)
            } else {
                String::new()
            },
            self.bottleneck()
        ));
        if let Some(f) = &self.dirty_file {
            s.push_str(&format!(
                "  dirty     {} record(s) in {f}\n",
                self.dirty_records
            ));
            for d in &self.dirty_samples {
                let like = if d.count > 1 {
                    " (the first of them)"
                } else {
                    ""
                };
                s.push_str(&format!("    {} x {}{like}\n", d.count, d.error));
            }
        }
        for v in &self.verify {
            s.push_str(&format!("  verify    {}\n", v.line()));
        }
        for w in &self.warnings {
            s.push_str(&format!("  warning   {w}\n"));
        }
        for t in self
            .task_reports
            .iter()
            .filter(|t| t.error.is_some() || t.attempts > 1)
        {
            s.push_str(&format!(
                "  task {}   {} after {} attempt(s): {}{}\n",
                t.id,
                t.state,
                t.attempts,
                t.source,
                t.error
                    .as_ref()
                    // Said once: the job's error line already carries it.
                    .filter(|e| !self
                        .error
                        .as_deref()
                        .is_some_and(|j| j.contains(e.as_str())))
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
        s
    }
}

/// `1.23 MB` style (powers of 1000).
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.2} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

fn noted() -> &'static std::sync::Mutex<Vec<String>> {
    static NOTED: std::sync::OnceLock<std::sync::Mutex<Vec<String>>> = std::sync::OnceLock::new();
    NOTED.get_or_init(Default::default)
}

/// Logs `msg` as a warning and puts it into this run's report (the printed summary and the
/// `--report` file), for what a scheduler that keeps only the report must see: e.g. a
/// destructive preSql that ran before a job failed.
pub fn warn(msg: String) {
    tracing::warn!("{msg}");
    if let Ok(mut n) = noted().lock() {
        n.push(msg);
    }
}

/// The warnings noted so far (see [`warn`]), taken.
pub(crate) fn take_warnings() -> Vec<String> {
    noted()
        .lock()
        .map(|mut n| std::mem::take(&mut *n))
        .unwrap_or_default()
}
