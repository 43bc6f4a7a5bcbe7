//! The stop switch of a running job, shared by the runner, the monitor and every task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Why a job stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// A task or job step failed.
    Failed(String),
    /// The stall watchdog fired with `stallAction: fail`.
    Stalled(String),
    /// A signal arrived (2 = SIGINT, 15 = SIGTERM).
    Signal(i32),
}

/// Shared stop switch of a running job: the first reason wins, every task sees the token.
#[derive(Debug, Default)]
pub struct JobControl {
    /// Cancelled when the job must stop.
    pub cancel: CancellationToken,
    reason: Mutex<Option<StopReason>>,
    committing: AtomicBool,
}

impl JobControl {
    /// A fresh control.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Stops the job for `reason` (ignored if it is already stopping for another reason).
    pub fn stop(&self, reason: StopReason) {
        if let Ok(mut r) = self.reason.lock() {
            if r.is_none() && !self.cancel.is_cancelled() {
                *r = Some(reason);
            }
        }
        self.cancel.cancel();
    }
    /// Why the job stopped, if it did.
    pub fn reason(&self) -> Option<StopReason> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }
    /// Marks that the writer's commit has begun: from here a stop no longer aborts the
    /// writer, the commit is finished (never cut half-way) and the job ends with its outcome.
    pub fn begin_commit(&self) {
        self.committing.store(true, Ordering::SeqCst);
    }
    /// Whether the writer's commit has begun (see [`JobControl::begin_commit`]).
    pub fn committing(&self) -> bool {
        self.committing.load(Ordering::SeqCst)
    }
}
