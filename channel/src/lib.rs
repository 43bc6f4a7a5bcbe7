//! The data path between a reader task and a writer task: [`Batch`] (an Arrow record batch
//! with its byte size), a bounded batch channel whose capacity is set both in batches and in
//! bytes, a [`Throttle`] shared by every pipeline of a job, and the [`Counters`] the report,
//! the progress display and the stall watchdog read.
#![warn(missing_docs)]

mod batch;
mod counters;
mod pipe;
mod throttle;

pub use batch::{batch_bytes, Batch};
pub use counters::{Counters, CountersSnapshot};
pub use pipe::{batch_channel, BatchReceiver, BatchSender, BatchTap, ChannelCapacity, Closed};
pub use throttle::{Throttle, ThrottleLimits};
