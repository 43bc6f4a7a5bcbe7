//! The job monitor: progress (an indicatif bar on a terminal, otherwise a plain line every
//! interval) and the stall watchdog, which names the stuck side of each running pipeline.

use crate::control::{JobControl, StopReason};
use crate::job::StallAction;
use crate::plugin::SizeHint;
use crate::report::human_bytes;
use datasync_channel::{Counters, CountersSnapshot};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// An indicatif bar on stderr.
    Bar,
    /// One plain line on stderr per interval.
    Lines(Duration),
    /// Nothing.
    Off,
}

pub(crate) const PENDING: u8 = 0;
pub(crate) const RUNNING: u8 = 1;
pub(crate) const DONE: u8 = 2;

/// One pipeline as the monitor sees it.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) source: String,
    pub(crate) hint: Option<SizeHint>,
    pub(crate) counters: Mutex<Arc<Counters>>,
    pub(crate) state: AtomicU8,
}

impl Slot {
    pub(crate) fn snapshot(&self) -> CountersSnapshot {
        self.counters
            .lock()
            .map(|c| c.snapshot())
            .unwrap_or_default()
    }
}

pub(crate) fn totals(slots: &[Slot]) -> CountersSnapshot {
    let mut t = CountersSnapshot::default();
    for s in slots {
        t += s.snapshot();
    }
    t
}

/// The total input when every task knows its size in the same unit, and whether any size is
/// an estimate.
fn total_input(slots: &[Slot]) -> Option<(u64, bool)> {
    let mut total = 0;
    let mut records = None;
    let mut estimated = false;
    for s in slots {
        let (n, is_records) = match s.hint? {
            SizeHint::Records(n) => (n, true),
            SizeHint::RecordsEstimate(n) => {
                estimated = true;
                (n, true)
            }
            SizeHint::Bytes(n) => (n, false),
        };
        if *records.get_or_insert(is_records) != is_records {
            return None;
        }
        total += n;
    }
    records.map(|_| (total, estimated))
}

pub(crate) struct Monitor {
    pub(crate) slots: Arc<Vec<Slot>>,
    pub(crate) control: Arc<JobControl>,
    pub(crate) mode: ProgressMode,
    pub(crate) stall_timeout: Duration,
    pub(crate) stall_action: StallAction,
    pub(crate) done: tokio_util::sync::CancellationToken,
    pub(crate) metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Monitor {
    /// Runs until `done` is cancelled.
    pub(crate) async fn run(self) {
        let total = total_input(&self.slots);
        let bar = match self.mode {
            ProgressMode::Bar => {
                let pb = match total {
                    Some((n, _)) => {
                        ProgressBar::with_draw_target(Some(n.max(1)), ProgressDrawTarget::stderr())
                    }
                    None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                };
                let tmpl = match total {
                    Some((_, true)) => "{spinner} [{elapsed_precise}] {wide_bar} ~{percent:>3}% ETA ~{eta} (estimated) {msg}",
                    Some((_, false)) => {
                        "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% ETA {eta} {msg}"
                    }
                    None => "{spinner} [{elapsed_precise}] {msg}",
                };
                if let Ok(style) = ProgressStyle::with_template(tmpl) {
                    pb.set_style(style);
                }
                Some(pb)
            }
            _ => None,
        };
        let start = Instant::now();
        let tick = Duration::from_millis(250);
        let mut last_line = Instant::now();
        let mut last_metrics: Option<Instant> = None;
        let mut last_moved = (0u64, Instant::now());
        loop {
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = self.done.cancelled() => break,
            }
            let t = totals(&self.slots);
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            if let Some(m) = &self.metrics {
                if last_metrics.is_none_or(|at| at.elapsed() >= m.interval) {
                    last_metrics = Some(Instant::now());
                    let (m, snap) = (m.clone(), t);
                    tokio::task::spawn_blocking(move || m.live(&snap, secs));
                }
            }
            let rate = t.records_written as f64 / secs;
            let mut msg = format!(
                "{} records, {}, {:.0} rec/s, dirty {}",
                t.records_written,
                human_bytes(t.bytes_written),
                rate,
                t.dirty
            );
            if t.isolating > 0 {
                msg.push_str(&format!(
                    ", isolating the bad rows of {} rejected rows",
                    t.isolating
                ));
            }
            let pct = total.map(|(n, _)| (t.input_done.min(n), n));
            if let Some(pb) = &bar {
                if let Some((done, _)) = pct {
                    pb.set_position(done);
                }
                pb.set_message(msg.clone());
            } else if let ProgressMode::Lines(every) = self.mode {
                if last_line.elapsed() >= every {
                    last_line = Instant::now();
                    let estimated = total.is_some_and(|(_, e)| e);
                    let extra = match pct {
                        Some((done, n)) if n > 0 && done > 0 => {
                            let frac = done as f64 / n as f64;
                            let eta = secs / frac - secs;
                            if estimated {
                                format!(
                                    " (~{:.1}%, ETA ~{:.0}s, estimated from table statistics)",
                                    frac * 100.0,
                                    eta
                                )
                            } else {
                                format!(" ({:.1}%, ETA {:.0}s)", frac * 100.0, eta)
                            }
                        }
                        _ => String::new(),
                    };
                    eprintln!("datasync: progress {msg}{extra}");
                }
            }
            // Stall watchdog: anything moving resets it.
            let moved = t.records_read + t.records_written + t.dirty + t.input_done;
            if moved != last_moved.0 {
                last_moved = (moved, Instant::now());
            } else if last_moved.1.elapsed() >= self.stall_timeout {
                last_moved.1 = Instant::now();
                let msg = self.describe_stall();
                tracing::warn!("{msg}");
                if self.stall_action == StallAction::Fail {
                    self.control.stop(StopReason::Stalled(msg));
                }
            }
        }
        if let Some(pb) = bar {
            pb.finish_and_clear();
        }
    }

    fn describe_stall(&self) -> String {
        let mut parts = Vec::new();
        for (i, s) in self.slots.iter().enumerate() {
            if s.state.load(Ordering::Relaxed) != RUNNING {
                continue;
            }
            let c = s.snapshot();
            let side = if c.reader_blocked {
                "the writer is stuck on its target (channel full, reader waiting)"
            } else if c.writer_starved {
                "the reader is stuck waiting on its source (channel empty, writer waiting)"
            } else {
                "both sides are inside their plugin (a slow statement or I/O call)"
            };
            parts.push(format!("task {i} ({}): {side}", s.source));
        }
        format!(
            "stalled: no record moved for {:?}; {}",
            self.stall_timeout,
            if parts.is_empty() {
                "no task is running".to_string()
            } else {
                parts.join("; ")
            }
        )
    }
}
