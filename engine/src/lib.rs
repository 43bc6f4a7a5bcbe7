//! The datasync engine: job model and `${var}` substitution, the plugin contract and registry,
//! the planner and runner (bounded pipelines, shared throttle, retries, error limit, dirty
//! records, stall watchdog, cancellation), progress and the run report. It knows no concrete
//! plugin: the plugin crates register theirs into a [`Registry`].
#![warn(missing_docs)]

pub mod config;
pub mod control;
pub mod diff;
pub mod dirty;
pub mod incremental;
pub mod job;
pub mod lineage;
pub mod metrics;
pub mod plugin;
pub mod progress;
pub mod registry;
pub mod report;
pub mod runner;
pub mod runstate;
pub mod schema;
pub mod secrets;
pub mod shard;
pub mod template;
pub mod verify;

pub use config::{parse_params, ByteSize, ConfigError, HumanDuration, Secret};
pub use dirty::DirtyRecord;
pub use job::{load_job, parse_vars, JobSpec, Setting};
pub use plugin::{
    BoxError, Cancelled, PluginError, Probe, Reader, ReaderTask, Resume, SizeHint, TaskContext,
    Writer, WriterTask,
};
pub use registry::{Params, Plugin, ReaderPlugin, Registry, RuntimeMissing, WriterPlugin};
pub use report::{Report, Status, TaskState};
pub use runner::{
    build, run, run_id, run_id_if_set, set_run_id, BuiltJob, JobControl, RunOptions, StopReason,
};

/// Re-exports plugins need, so their crates name one engine version.
pub use async_trait::async_trait;
pub use datasync_channel as channel;
