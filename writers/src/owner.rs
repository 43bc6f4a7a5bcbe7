//! Who owns staged output (a staging directory, an upload, a staging table): `host pid` of the
//! process that made it, and whether that process is gone, so a later run may remove it.

use std::fs;
use std::path::Path;

/// `host pid` of this process, written into each staging directory it owns; in a planned
/// run (container-task mode) `planned <run id>`: the run, not a process, owns its staging.
pub(crate) fn owner() -> String {
    if datasync_engine::shard::planned() {
        return datasync_engine::shard::planned_owner();
    }
    format!("{} {}", hostname(), std::process::id())
}

/// This machine's host name.
pub(crate) fn hostname() -> String {
    datasync_engine::runstate::hostname()
}

/// Who owns staged output, from its owner text (`host pid`, see [`owner`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// No owner text.
    Unknown,
    /// A process of this host that is gone (or this very process): its output may go.
    Gone,
    /// A live process, or a run on another host (the reason): leave its output alone.
    Elsewhere(String),
}

/// The state of the owner named by `owner` (`host pid`), seen from host `host`.
pub(crate) fn owner_state(owner: &str, host: &str) -> Owner {
    if let Some(run) = datasync_engine::shard::planned_run_of(owner) {
        return if datasync_engine::shard::planned() && run == datasync_engine::run_id() {
            Owner::Gone
        } else {
            Owner::Elsewhere(format!(
                "the staging of planned run {run}: `datasync commit` or `datasync abort` of its \
                 plan directory removes it"
            ))
        };
    }
    let Some((owner_host, pid)) = owner.trim().rsplit_once(' ') else {
        return Owner::Unknown;
    };
    if owner_host != host {
        Owner::Elsewhere(format!("a run on host {owner_host}"))
    } else if pid != std::process::id().to_string() && pid_alive(pid) {
        Owner::Elsewhere(format!("process {pid} still runs"))
    } else {
        Owner::Gone
    }
}

/// Whether process `pid` exists on this host (a zombie counts as gone).
fn pid_alive(pid: &str) -> bool {
    match fs::read_to_string(Path::new("/proc").join(pid).join("stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
