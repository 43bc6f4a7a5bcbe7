//! `datasync`: runs DataX-style JSON jobs. This file is the command line and the plugin wiring;
//! everything else lives in the workspace crates.

use anyhow::Context;
use clap::{Parser, Subcommand};
use datasync_engine::progress::ProgressMode;
use datasync_engine::{
    build, load_job, parse_vars, run, ConfigError, JobControl, Registry, RunOptions, StopReason,
};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "datasync",
    version,
    about = "DataX-style batch data sync: JSON jobs, Arrow batches, one binary"
)]
struct Cli {
    /// `text` (default) or `json`: one JSON object per line (log lines, messages and the
    /// final report), with the run id and the shard, for container log collectors.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a job.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Validate a job (both plugins' parameters) without touching any system; with
    /// `--connect`, also log in to both systems and check what the job needs.
    #[command(after_help = CHECK_HELP)]
    Check {
        #[command(flatten)]
        job: JobArgs,
        /// Log in to the reader's and the writer's systems and check tables, columns, the
        /// split key, files and write access (reads metadata only: no row is read or written).
        #[arg(long)]
        connect: bool,
    },
    /// Finish or remove what killed runs of a job left at its target (an interrupted commit
    /// is finished, a killed run's staging removed); `run` does the same before it writes.
    Recover {
        #[command(flatten)]
        job: JobArgs,
    },
    /// Container-task mode: validate the job, run the writer's prepare, split the source
    /// into the tasks of N shards and write DIR/plan.json; each shard then runs as
    /// `datasync run JOB --plan DIR --shard I/N`, and `datasync commit DIR` publishes.
    #[command(after_help = PLAN_HELP)]
    Plan {
        #[command(flatten)]
        job: JobArgs,
        /// Number of shards (containers, array tasks).
        #[arg(long)]
        shards: usize,
        /// The plan directory (shared by every shard and the commit).
        #[arg(long)]
        out: PathBuf,
        /// Name the run (default: generated).
        #[arg(long)]
        run_id: Option<String>,
    },
    /// Container-task mode: publish a planned run once every shard has reported (a second
    /// commit does nothing).
    Commit {
        /// The plan directory.
        dir: PathBuf,
        /// Parameters the plan did not store (secret ones).
        #[arg(short = 'p', long = "param", allow_hyphen_values = true)]
        params: Vec<String>,
    },
    /// Container-task mode: remove all staged output of a planned run.
    Abort {
        /// The plan directory.
        dir: PathBuf,
        /// Parameters the plan did not store (secret ones).
        #[arg(short = 'p', long = "param", allow_hyphen_values = true)]
        params: Vec<String>,
    },
    /// Container-task mode: hand a job's shards and its commit to a scheduler (plans the
    /// job first unless the plan directory holds its plan).
    #[command(subcommand)]
    Submit(submit::Scheduler),
    /// An incremental job's watermark (`incremental.state`): show it, set it, or reset it
    /// (the next run then reads everything).
    #[command(subcommand)]
    State(StateCmd),
    /// Compare, by key, the rows a job's reader reads with the rows in its writer's target:
    /// prints each missing, extra and different row as a JSON line; exit 0 same, 1
    /// different, 2 trouble.
    Diff {
        #[command(flatten)]
        job: JobArgs,
        /// The key column(s), comma-separated, as the reader names them.
        #[arg(long)]
        key: String,
        /// A condition selecting the target rows to compare (SQL targets; default:
        /// job.verify.targetWhere, else the whole table).
        #[arg(long)]
        target_where: Option<String>,
        /// Tasks read at once on each side (default: job.setting.speed.channel).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
        channels: Option<u32>,
        /// Write the differences here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List readers and writers with their DataX aliases.
    Plugins,
    /// Print the JSON Schema (draft 2020-12) of a job file, or of one plugin's parameters:
    /// for platforms that validate jobs or build forms.
    #[command(after_help = SCHEMA_HELP)]
    Schema {
        /// A plugin (`reader:mysql`, `writer:parquet`, a DataX alias such as `mysqlreader`,
        /// or a name only one side has); none: the whole job.
        plugin: Option<String>,
    },
    /// Print a job skeleton with every parameter of a reader and a writer.
    Template {
        /// Reader name or alias.
        reader: String,
        /// Writer name or alias.
        writer: String,
    },
}

/// The job file and its `-p` values, as most commands take them.
#[derive(clap::Args)]
struct JobArgs {
    /// The job file.
    job: PathBuf,
    /// Fill ${name}, as for `run`.
    #[arg(short = 'p', long = "param", allow_hyphen_values = true)]
    params: Vec<String>,
}

impl JobArgs {
    fn load(&self) -> Result<datasync_engine::BuiltJob, ConfigError> {
        load_built(&self.job, &self.params)
    }
}

#[derive(Subcommand)]
enum StateCmd {
    /// Print the committed watermark (JSON), or say there is none.
    Show {
        #[command(flatten)]
        job: JobArgs,
    },
    /// Set the watermark: the next run reads the rows above VALUE.
    Set {
        #[command(flatten)]
        job: JobArgs,
        /// The new watermark, as the source prints the column's values (not checked: a value
        /// the column cannot hold, or one above its rows, makes the next runs read nothing).
        value: String,
        /// Only this source's watermark (a table the job reads); default every source's.
        #[arg(long)]
        source: Option<String>,
    },
    /// Remove the watermark: the next run reads everything.
    Reset {
        #[command(flatten)]
        job: JobArgs,
    },
}

const RUN_HELP: &str = "\
Examples:
  datasync run jobs/demo_stream_to_file.json
  datasync run mysql_to_postgres.json -p biz_date=2024-01-31 --report r.json
  datasync run job.json -p \"-Dbiz_date=2024-01-31 -Dtable=orders\"   (DataX's form)
  datasync run job.json --run-id nightly-0131 ... then, after a failure:
  datasync run job.json --run-id nightly-0131 --resume

Exit codes: 0 succeeded, 1 runtime failure, 2 bad job or arguments, 3 error limit exceeded,
4 verification failed (job.verify), 130 SIGINT, 143 SIGTERM.
Logs, progress and the report go to stderr; DATASYNC_LOG=debug (or a tracing filter such as
datasync=debug) for more detail. Dirty records go to ./datasync-dirty-<job>.jsonl.";

const SCHEMA_HELP: &str = "\
Examples:
  datasync schema > datasync-job.schema.json
  datasync schema reader:mysql
  datasync schema hdfswriter

The job schema validates a job file as written (a ${var} placeholder is accepted where the
binary accepts a quoted value); each reader and writer `parameter` is checked by its `name`.";

const PLAN_HELP: &str = "\
Examples:
  datasync plan job.json -p biz_date=2024-01-31 --shards 4 --out /shared/plans/orders-0131
  datasync run job.json -p biz_date=2024-01-31 --plan /shared/plans/orders-0131 --shard 2/4
  datasync commit /shared/plans/orders-0131
  datasync abort /shared/plans/orders-0131

A shard without --shard takes its index from DATASYNC_SHARD_INDEX (count
DATASYNC_SHARD_COUNT), Kubernetes' JOB_COMPLETION_INDEX or a Slurm array's
SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN. Shard exit codes: 0 staged (or done before),
75 failed (retry it), 42 do not retry (bad job, error limit), 2 wrong plan or shard,
143 SIGTERM (retry it). commit: 0 published (or published before), 1 shards missing or a
failure, 3 error limit exceeded over all shards, 4 job.verify failed, 2 bad plan.";

const CHECK_HELP: &str = "\
Examples:
  datasync check job.json
  datasync check job.json -p biz_date=2024-01-31
  datasync check --connect job.json        (logs in; prints what it found on both sides)

Exit codes: 0 valid, 2 bad job (the message names the file, the JSON path and what was
expected); with --connect also 1 when a system cannot be reached or lacks what the job needs
(a table, a column, a file, write access).";

/// Prints `text` and a line end on stdout. A reader that closed the pipe early (`| head`)
/// ends the program quietly instead of a panic.
pub(crate) fn out(text: impl std::fmt::Display) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    if let Err(e) = writeln!(o, "{text}").and_then(|()| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("datasync: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// `eprintln!` with every secret masked (see `datasync_engine::secrets`): all the binary's own
/// messages go through it.
macro_rules! say {
    ($($t:tt)*) => {
        $crate::say_raw(&format!("{}\n", format_args!($($t)*)))
    };
}

/// [`say!`] for an error: with `--log-format json` its level is ERROR.
macro_rules! say_error {
    ($($t:tt)*) => {
        $crate::say_err(&format!("{}\n", format_args!($($t)*)))
    };
}

mod logjson;
mod shard;
mod submit;

/// Writes `text` to stderr with every secret masked (with `--log-format json`, each line as
/// a JSON object).
fn say_raw(text: &str) {
    say_at("INFO", text)
}

/// [`say_raw`] for an error (the JSON line's level is ERROR).
fn say_err(text: &str) {
    say_at("ERROR", text)
}

fn say_at(level: &str, text: &str) {
    if logjson::enabled() {
        let mut out = String::new();
        for l in text.lines().filter(|l| !l.trim().is_empty()) {
            out.push_str(&logjson::line(level, l, serde_json::Map::new()));
        }
        eprint!("{out}");
        return;
    }
    eprint!("{}", datasync_engine::secrets::redact(text));
}

/// The run's summary: the human text, or with `--log-format json` the report as one line.
fn say_report(report: &datasync_engine::Report) {
    if logjson::enabled() {
        let mut extra = serde_json::Map::new();
        if let Ok(mut v) = serde_json::to_value(report) {
            datasync_engine::secrets::redact_json(&mut v);
            extra.insert("report".into(), v);
        }
        let level = if report.exit_code == 0 {
            "INFO"
        } else {
            "ERROR"
        };
        let human = report.human();
        let msg = human
            .lines()
            .find(|l| l.starts_with("datasync: job"))
            .unwrap_or("datasync: job finished")
            .to_string();
        eprint!("{}", logjson::line(level, &msg, extra));
        return;
    }
    say_raw(&report.human());
}

fn registry() -> Registry {
    let mut r = Registry::new();
    datasync_readers::register(&mut r);
    datasync_writers::register(&mut r);
    r
}

const EXIT_CONFIG: u8 = 2;

fn config_error(e: &ConfigError) -> ExitCode {
    say_error!("datasync: bad job: {e}");
    ExitCode::from(EXIT_CONFIG)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("DATASYNC_LOG")
            .unwrap_or_else(|_| "info".into())
    };
    if cli.log_format == "json" {
        logjson::enable();
        tracing_subscriber::fmt()
            .with_writer(|| datasync_engine::secrets::RedactedStderr)
            .with_ansi(false)
            .event_format(logjson::JsonLines)
            .with_env_filter(filter())
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_writer(|| datasync_engine::secrets::RedactedStderr)
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .with_env_filter(filter())
            .init();
    }
    match cli.cmd {
        Cmd::Plugins => {
            print!("{}", plugins_text(&registry()));
            ExitCode::SUCCESS
        }
        Cmd::Schema { plugin } => {
            let registry = registry();
            let schema = match &plugin {
                None => Ok(datasync_engine::schema::job_schema(&registry)),
                Some(p) => datasync_engine::schema::plugin_schema(&registry, p),
            };
            match schema {
                Ok(s) => {
                    out(serde_json::to_string_pretty(&s).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    say_error!("datasync: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Template { reader, writer } => match template(&registry(), &reader, &writer) {
            Ok(t) => {
                out(t);
                ExitCode::SUCCESS
            }
            Err(e) => config_error(&e),
        },
        Cmd::Check { job, connect } => match job.load() {
            Ok(b) => {
                say!(
                    "datasync: {} is valid ({} -> {})",
                    job.job.display(),
                    b.reader_name,
                    b.writer_name
                );
                if connect {
                    connect_check(&b)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => config_error(&e),
        },
        Cmd::Recover { job } => recover_command(&job),
        Cmd::Diff {
            job,
            key,
            target_where,
            channels,
            out,
        } => diff_command(&job, &key, target_where, channels, out.as_deref()),
        Cmd::State(cmd) => state_command(cmd),
        Cmd::Plan {
            job,
            shards,
            out,
            run_id,
        } => shard::plan_command(&job.job, &job.params, shards, &out, run_id.as_deref()),
        Cmd::Commit { dir, params } => shard::commit_command(&dir, &params),
        Cmd::Abort { dir, params } => shard::abort_command(&dir, &params),
        Cmd::Submit(s) => submit::submit_command(s),
        Cmd::Run(a) => run_command(a),
    }
}

/// `datasync check --connect`: both sides' probes as a table, then the column pairs.
fn connect_check(b: &datasync_engine::BuiltJob) -> ExitCode {
    let Some(rt) = runtime() else {
        return ExitCode::from(1);
    };
    let (reader, writer) = rt.block_on(b.probe());
    rt.shutdown_timeout(Duration::from_secs(2));
    let mut rows: Vec<(String, String, String, bool)> = Vec::new();
    let mut side =
        |name: &str,
         plugin: &str,
         r: &Result<datasync_engine::Probe, datasync_engine::PluginError>| {
            let label = format!("{name} {plugin}");
            match r {
                Ok(p) => {
                    for (what, found, ok) in &p.lines {
                        rows.push((label.clone(), what.clone(), found.clone(), *ok));
                    }
                }
                Err(e) => rows.push((label, "connection".into(), e.chain(), false)),
            }
        };
    side("reader", b.reader_name, &reader);
    side("writer", b.writer_name, &writer);
    // The column pairs, where both sides know theirs.
    if let (Ok(r), Ok(w)) = (&reader, &writer) {
        if let (Some(rc), Some(wc)) = (&r.columns, &w.columns) {
            let pairs = rc
                .iter()
                .zip(wc)
                .map(|((rn, rt), (wn, wt))| format!("{rn} {rt} -> {wn} {wt}"))
                .collect::<Vec<_>>()
                .join(", ");
            if rc.len() == wc.len() {
                rows.push(("job".into(), "columns".into(), pairs, true));
                for ((rn, rt), (wn, wt)) in rc.iter().zip(wc) {
                    if let Some(risk) = conversion_risk(rt, wt) {
                        rows.push((
                            "job".into(),
                            format!("column {rn} -> {wn}"),
                            format!("{rt} -> {wt}: {risk}"),
                            true,
                        ));
                    }
                }
            } else {
                rows.push((
                    "job".into(),
                    "columns".into(),
                    format!(
                        "the reader has {} columns, the writer {}: {pairs}",
                        rc.len(),
                        wc.len()
                    ),
                    false,
                ));
            }
        }
    }
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let mut text = String::new();
    for (who, what, found, ok) in &rows {
        let mark = if *ok { "ok     " } else { "PROBLEM" };
        text.push_str(&format!("  {mark}  {who:<w0$}  {what:<w1$}  {found}\n"));
    }
    say_raw(&text);
    let problems = rows.iter().filter(|r| !r.3).count();
    if problems == 0 {
        say!("datasync: both systems have what the job needs");
        ExitCode::SUCCESS
    } else {
        say_error!("datasync: {problems} problem(s): the job would fail");
        ExitCode::from(1)
    }
}

/// The kind of a column type, by the names both Arrow and the SQL systems use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Decimal,
    Float,
    Text,
    Date,
    Timestamp,
    Boolean,
    Binary,
    Other,
}

fn kind_of(type_name: &str) -> Kind {
    let t = type_name.to_ascii_lowercase();
    let has = |w: &[&str]| w.iter().any(|x| t.contains(x));
    if has(&["timestamp", "datetime"]) {
        Kind::Timestamp
    } else if has(&["date"]) {
        Kind::Date
    } else if has(&["decimal", "numeric", "money"]) {
        Kind::Decimal
    } else if has(&["float", "double", "real"]) {
        Kind::Float
    } else if has(&["int", "serial"]) && !has(&["interval", "point"]) {
        Kind::Integer
    } else if has(&["bool"]) {
        Kind::Boolean
    } else if has(&["char", "text", "utf8", "string", "json", "name", "uuid"]) {
        Kind::Text
    } else if has(&["binary", "bytea", "blob"]) {
        Kind::Binary
    } else {
        Kind::Other
    }
}

/// What a reader -> writer column pair may do to values (rows that become dirty), for `check
/// --connect`; `None` when every value fits as it is.
fn conversion_risk(from: &str, to: &str) -> Option<&'static str> {
    use Kind::*;
    match (kind_of(from), kind_of(to)) {
        (a, b) if a == b => None,
        (_, Text) | (_, Other) | (Other, _) => None,
        (Integer, Decimal) | (Integer, Float) | (Date, Timestamp) => None,
        (Text, _) => {
            Some("values must parse as the target's type; those that do not become dirty records")
        }
        (Float, Integer) | (Float, Decimal) | (Decimal, Integer) => {
            Some("values with a fraction (or beyond the target's digits) become dirty records")
        }
        (Timestamp, Date) => Some("values with a time of day become dirty records"),
        _ => Some("the kinds differ: values that do not convert become dirty records"),
    }
}

/// `datasync recover JOB`.
fn recover_command(job: &JobArgs) -> ExitCode {
    let built = match job.load() {
        Ok(b) => b,
        Err(e) => return config_error(&e),
    };
    let res = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
        .and_then(|rt| {
            rt.block_on(built.recover())
                .map_err(|e| anyhow::anyhow!("{}", e.chain()))
        });
    match res {
        Ok(lines) if lines.is_empty() => {
            say!("datasync: nothing to recover for {}", job.job.display());
            ExitCode::SUCCESS
        }
        Ok(lines) => {
            for l in lines {
                say!("datasync: {l}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            say_error!("datasync: recover failed: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The arguments of `datasync run`.
#[derive(clap::Args)]
struct RunArgs {
    /// The job file.
    job: PathBuf,
    /// Fill ${name}: `-p name=value`, or DataX's `-p "-Dname=value -Dother=value"`.
    #[arg(short = 'p', long = "param", allow_hyphen_values = true)]
    params: Vec<String>,
    /// Also write the report to this file: JSON, or the printed summary for a `.md`/`.txt` name.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Where dirty records go (default ./datasync-dirty-<job>.jsonl).
    #[arg(long)]
    dirty_file: Option<PathBuf>,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, default_value_t = 10)]
    progress_interval: u64,
    /// No progress display.
    #[arg(long)]
    no_progress: bool,
    /// Name this run (staging, output names). With it, a failed run keeps its staged
    /// output so that `--resume` can go on from its finished tasks.
    #[arg(long)]
    run_id: Option<String>,
    /// Resume the run named by --run-id: tasks it finished are not run again.
    #[arg(long, requires = "run_id")]
    resume: bool,
    /// An incremental job reads everything up to its high-water mark, ignoring its committed
    /// watermark (which the run then moves as usual).
    #[arg(long, conflicts_with = "plan")]
    full: bool,
    /// Container-task mode: run one shard of the plan in this directory (see `datasync plan`).
    #[arg(long, conflicts_with_all = ["run_id", "resume"])]
    plan: Option<PathBuf>,
    /// The shard to run, I/N (default: from the scheduler's environment).
    #[arg(long, requires = "plan")]
    shard: Option<String>,
    /// Name of this attempt of the shard (default: from the scheduler's environment).
    #[arg(long, requires = "plan")]
    attempt: Option<String>,
    /// Write run metrics (Prometheus text format) to this file while the job runs and at its
    /// end, for node_exporter's textfile collector.
    #[arg(long, conflicts_with = "plan")]
    metrics_file: Option<PathBuf>,
    /// Push run metrics to this Prometheus Pushgateway (http://host:port) while the job runs
    /// and at its end, grouped by job and run id.
    #[arg(long, conflicts_with = "plan")]
    metrics_push: Option<String>,
    /// Seconds between metrics updates while the job runs.
    #[arg(long, default_value_t = 10)]
    metrics_interval: u64,
    /// OpenLineage run events (START, then COMPLETE, FAIL or ABORT): appended to this file as
    /// JSON lines, or POSTed to an http:// URL (e.g. Marquez's /api/v1/lineage).
    #[arg(long, conflicts_with = "plan")]
    lineage: Option<String>,
}

/// `datasync run JOB`.
fn run_command(a: RunArgs) -> ExitCode {
    if let Some(dir) = &a.plan {
        return shard::shard_command(shard::ShardArgs {
            job: &a.job,
            params: &a.params,
            dir,
            shard: a.shard.as_deref(),
            attempt: a.attempt.as_deref(),
            dirty_file: a.dirty_file.clone(),
            progress: progress_mode(a.no_progress, a.progress_interval),
            report: a.report.clone(),
        });
    }
    if let Some(id) = &a.run_id {
        if let Err(e) = datasync_engine::set_run_id(id) {
            say_error!("datasync: --run-id: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    if a.resume {
        datasync_engine::runstate::set_resuming();
    }
    let built = match load_built(&a.job, &a.params) {
        Ok(b) => b,
        Err(e) => return config_error(&e),
    };
    if a.resume {
        if let Err(e) = built.resume_check() {
            say_error!("datasync: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    // Dirty records are of the job file: its runs with other parameters replace them.
    let dirty_job = std::path::absolute(&a.job)
        .unwrap_or_else(|_| a.job.clone())
        .display()
        .to_string();
    let dirty_file = a
        .dirty_file
        .unwrap_or_else(|| datasync_engine::dirty::default_path(&built.spec.name, &dirty_job));
    // Every file the run writes is its own: one would replace another (or the job).
    let lineage_file = a
        .lineage
        .as_deref()
        .filter(|l| !l.contains("://"))
        .map(PathBuf::from);
    let outputs: Vec<(&str, &PathBuf)> = [
        ("the job file", Some(&a.job)),
        ("the dirty file", Some(&dirty_file)),
        ("--report", a.report.as_ref()),
        ("--metrics-file", a.metrics_file.as_ref()),
        ("--lineage", lineage_file.as_ref()),
    ]
    .into_iter()
    .filter_map(|(n, p)| p.map(|p| (n, p)))
    .collect();
    let same = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
    for (i, (n1, p1)) in outputs.iter().enumerate() {
        if let Some((n2, _)) = outputs[i + 1..].iter().find(|(_, p2)| same(p1) == same(p2)) {
            say!(
                "datasync: {n1} and {n2} are the same file ({}): one would replace the other; \
                 give them different names",
                p1.display()
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    let progress = progress_mode(a.no_progress, a.progress_interval);
    let metrics = if a.metrics_file.is_some() || a.metrics_push.is_some() {
        match datasync_engine::metrics::Metrics::new(
            a.metrics_file.clone(),
            a.metrics_push.as_deref(),
            &built.spec.name,
            datasync_engine::run_id(),
            Duration::from_secs(a.metrics_interval.max(1)),
        ) {
            Ok(m) => Some(std::sync::Arc::new(m)),
            Err(e) => {
                say_error!("datasync: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    } else {
        None
    };
    let lineage = match &a.lineage {
        None => None,
        Some(target) => {
            let (inputs, outputs) = built.datasets();
            match datasync_engine::lineage::Lineage::new(
                target,
                &built.spec.name,
                datasync_engine::run_id(),
                inputs,
                outputs,
            ) {
                Ok(l) => Some(l),
                Err(e) => {
                    say_error!("datasync: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            }
        }
    };
    let opts = RunOptions {
        dirty_file,
        dirty_job: Some(dirty_job),
        progress,
        resume: a.resume,
        keep_staging: a.run_id.is_some(),
        shard: None,
        metrics: metrics.clone(),
        full: a.full,
    };
    match run_job(
        built,
        opts,
        a.report,
        metrics,
        lineage.map(std::sync::Arc::new),
    ) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            say_error!("datasync: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn progress_mode(off: bool, interval: u64) -> ProgressMode {
    if off {
        ProgressMode::Off
    } else if std::io::stderr().is_terminal() {
        ProgressMode::Bar
    } else {
        ProgressMode::Lines(Duration::from_secs(interval.max(1)))
    }
}

/// Fills the job's placeholders from `params`, loads it and builds both plugins (offline).
/// A Tokio runtime for a command's async work; `None` (said on stderr) when it cannot start.
fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            say_error!("datasync: starting the runtime: {e}");
            None
        }
    }
}

/// `datasync state show|set|reset JOB`.
fn state_command(cmd: StateCmd) -> ExitCode {
    let job = match &cmd {
        StateCmd::Show { job } | StateCmd::Set { job, .. } | StateCmd::Reset { job } => job,
    };
    let built = match job.load() {
        Ok(b) => b,
        Err(e) => return config_error(&e),
    };
    let Some(inc) = built.incremental() else {
        say_error!(
            "datasync: {}: the reader has no \"incremental\" setting, so there is no watermark",
            job.job.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    let Some(rt) = runtime() else {
        return ExitCode::from(1);
    };
    let done = match &cmd {
        StateCmd::Show { .. } => rt.block_on(inc.load()).map(|w| match w {
            Some(w) => out(serde_json::to_string_pretty(&w).unwrap_or_default()),
            None => say!(
                "datasync: no watermark in {}: the next run reads every row of column {}",
                inc.location(),
                inc.column
            ),
        }),
        StateCmd::Set { value, source, .. } => rt.block_on(inc.set(source.as_deref(), value)).map(|()| {
            say!(
                "datasync: watermark of {} set to {value} in {}: the next run reads what comes after it (rows above it; files modified after it)",
                inc.column,
                inc.location()
            )
        }),
        StateCmd::Reset { .. } => rt.block_on(inc.reset()).map(|had| {
            say!(
                "datasync: {} {}: the next run reads every row",
                if had { "removed the watermark in" } else { "no watermark in" },
                inc.location()
            )
        }),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say_error!("datasync: {e}");
            ExitCode::from(1)
        }
    }
}

/// `datasync diff`: exit 0 same, 1 differences, 2 trouble (bad job, a side that cannot be
/// read).
fn diff_command(
    job: &JobArgs,
    key: &str,
    target_where: Option<String>,
    channels: Option<u32>,
    out: Option<&std::path::Path>,
) -> ExitCode {
    let built = match job.load() {
        Ok(b) => b,
        Err(e) => return config_error(&e),
    };
    let opts = datasync_engine::diff::DiffOptions {
        key: key
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(String::from)
            .collect(),
        channels: channels
            .map(|c| c as usize)
            .unwrap_or(built.spec.setting.speed.channels()),
        // job.verify.targetWhere selects a run's rows; an incremental run's window is not
        // what diff compares (it reads the whole source), so it is not taken then.
        target_where: target_where.or_else(|| {
            built
                .spec
                .verify
                .as_ref()
                .and_then(|v| v.target_where.clone())
                .filter(|_| built.incremental().is_none())
        }),
    };
    if let Some(o) = out {
        // The same file by any name: a path, a symbolic link or a hard link.
        let same = |a: &std::path::Path, b: &std::path::Path| {
            use std::os::unix::fs::MetadataExt;
            matches!((std::fs::metadata(a), std::fs::metadata(b)),
                (Ok(x), Ok(y)) if x.dev() == y.dev() && x.ino() == y.ino())
        };
        if same(o, &job.job) {
            say_error!(
                "datasync diff: --out {} is the job file: name another file",
                o.display()
            );
            return ExitCode::from(2);
        }
    }
    let Some(rt) = runtime() else {
        return ExitCode::from(2);
    };
    let t0 = std::time::Instant::now();
    let registry = registry();
    let res = rt.block_on(datasync_engine::diff::diff(&built, &registry, &opts));
    let (sum, diffs) = match res {
        Ok(r) => r,
        Err(e) => {
            say_error!("datasync diff: {e}");
            return ExitCode::from(2);
        }
    };
    let mut text = String::new();
    for d in &diffs {
        text.push_str(&serde_json::to_string(d).unwrap_or_default());
        text.push('\n');
    }
    let written = match out {
        Some(p) => std::fs::write(p, &text),
        None => std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes()),
    };
    if let Err(e) = written {
        say_error!(
            "datasync diff: cannot write the differences{}: {e}",
            out.map(|p| format!(" to {}", p.display()))
                .unwrap_or_default()
        );
        return ExitCode::from(2);
    }
    let same = diffs.is_empty();
    say!(
        "datasync diff: {} {} -> {} in {:.2}s: source {} rows, target {} rows; {} same, {} missing, {} extra, {} different; {} key(s) shared by several rows; compared {}",
        if same { "SAME" } else { "DIFFERENT" },
        built.reader_name,
        built.writer_name,
        t0.elapsed().as_secs_f64(),
        sum.source_rows,
        sum.target_rows,
        sum.same,
        sum.missing,
        sum.extra,
        sum.different,
        sum.repeated_keys,
        sum.columns.join(", ")
    );
    ExitCode::from(if same { 0 } else { 1 })
}

fn load_built(
    job: &std::path::Path,
    params: &[String],
) -> Result<datasync_engine::BuiltJob, ConfigError> {
    parse_vars(params)
        .and_then(|v| load_job(job, &v))
        .and_then(|s| build(s, &registry()))
}

fn run_job(
    built: datasync_engine::BuiltJob,
    opts: RunOptions,
    report_file: Option<PathBuf>,
    metrics: Option<std::sync::Arc<datasync_engine::metrics::Metrics>>,
    lineage: Option<std::sync::Arc<datasync_engine::lineage::Lineage>>,
) -> anyhow::Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let report = rt.block_on(async {
        let control = JobControl::new();
        let signals = tokio::spawn(watch_signals(control.clone()));
        // START goes out once signals are handled: a SIGTERM while it is on its way stops
        // the run the usual way (ABORT, report, exit 143).
        if let Some(l) = lineage.clone() {
            let _ = tokio::task::spawn_blocking(move || l.start()).await;
        }
        let report = run(built, opts, control).await;
        signals.abort();
        report
    });
    let mut report = report;
    // The report file is written before the summary is printed, so the summary never says
    // exit 0 when the process then fails on the report.
    if let Some(path) = report_file {
        if let Err(e) = write_report(&path, &report) {
            let what = format!("{e:#}");
            report.exit_code = report.exit_code.max(1);
            report.error = Some(match report.error.take() {
                Some(first) => format!("{first}; also: {what}"),
                None => format!("{what} (the job itself finished; its output is in place)"),
            });
        }
    }
    if let Some(m) = metrics {
        m.finish(&report);
    }
    if let Some(l) = lineage {
        l.end(&report);
    }
    say_report(&report);
    // Blocking plugin threads still winding down must not hold the exit.
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(u8::try_from(report.exit_code).unwrap_or(1))
}

/// Writes the report to `path`: `.md` / `.txt` the human report (as printed), anything else
/// JSON; every secret masked.
fn write_report(path: &std::path::Path, report: &datasync_engine::Report) -> anyhow::Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let text = match ext.as_deref() {
        Some("md") => format!(
            "# datasync job {}\n\n```text\n{}```\n",
            report.job,
            report.human()
        ),
        Some("txt") => report.human(),
        _ => {
            let mut v = serde_json::to_value(report).context("serializing the report")?;
            // Masked string by string: JSON escaping would hide a secret holding a quote or a
            // backslash from a mask over the text.
            datasync_engine::secrets::redact_json(&mut v);
            serde_json::to_string_pretty(&v).context("serializing the report")?
        }
    };
    std::fs::write(path, datasync_engine::secrets::redact(&text).as_bytes())
        .with_context(|| format!("cannot write the report to {}", path.display()))
}

async fn watch_signals(control: std::sync::Arc<JobControl>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!(
            "cannot install signal handlers; SIGINT/SIGTERM will kill the job without cleanup"
        );
        return;
    };
    let sig = tokio::select! {
        _ = int.recv() => 2,
        _ = term.recv() => 15,
    };
    if control.committing() {
        tracing::warn!(
            "signal {sig} received while the writer commits: the commit is finished, not cut \
             half-way, and the job ends with its outcome"
        );
    } else {
        tracing::warn!("signal {sig} received: stopping tasks, aborting the writer");
    }
    control.stop(StopReason::Signal(sig));
}

fn plugins_text(r: &Registry) -> String {
    let mut s = String::from("readers:\n");
    let line = |name: &str, aliases: &[&str], description: &str, runtime: fn() -> _| {
        let mark = match runtime() {
            Ok(()) => String::new(),
            Err(datasync_engine::RuntimeMissing { mark, .. }) => format!(" [{mark}]"),
        };
        format!(
            "  {:<10} {:<36} {description}{mark}\n",
            name,
            aliases.join(", ")
        )
    };
    for e in r.readers() {
        s.push_str(&line(e.name, e.aliases, e.description, e.runtime));
    }
    s.push_str("writers:\n");
    for e in r.writers() {
        s.push_str(&line(e.name, e.aliases, e.description, e.runtime));
    }
    s
}

use datasync_engine::template::{note, TemplateNote};

fn template(r: &Registry, reader: &str, writer: &str) -> Result<String, ConfigError> {
    let re = r.reader(reader, "READER")?;
    let we = r.writer(writer, "WRITER")?;
    let job = serde_json::json!({
        "job": {
            "setting": {
                "speed": {"channel": 1, "byte": -1, "record": -1},
                "errorLimit": {"record": 0, "percentage": 0.02},
                "retry": {"count": 2, "backoff": "1s"},
                "batch": {"rows": 8192, "bytes": 8388608},
                "stallTimeout": "10m",
                "stallAction": "warn"
            },
            "content": [{
                "reader": {"name": re.name, "parameter": (re.template)()},
                "writer": {"name": we.name, "parameter": (we.template)()}
            }]
        }
    });
    Ok(datasync_engine::template::render(
        &job,
        &[
            ("job.setting", SETTING_NOTES),
            ("job.content[].reader.parameter", &(re.notes)()),
            ("job.content[].writer.parameter", &(we.notes)()),
        ],
    ))
}

/// Comments of `job.setting` in `datasync template`.
const SETTING_NOTES: &[TemplateNote] = &[
    note("speed.channel", "Pipelines (reader task + writer task) run at once; default 1."),
    note("speed.byte", "Job-wide bytes per second; -1, 0 or absent: unlimited (default)."),
    note("speed.record", "Job-wide records per second; -1, 0 or absent: unlimited (default)."),
    note(
        "errorLimit.record",
        "The job stops (exit 3) when dirty records exceed this; absent: no limit (DataX's \
         default), a job with dirty records then prints a warning with their count and file.",
    ),
    note(
        "errorLimit.percentage",
        "The job fails (exit 3) when dirty/total exceeds this ratio (0.0 to 1.0), judged at the end.",
    ),
    note("retry.count", "Retries of a failed task whose output is discarded or idempotent; default 2."),
    note("retry.backoff", "Wait before the first retry, doubled for each further one; default 1s."),
    note("batch.rows", "Rows per batch a reader produces; default 8192."),
    note("batch.bytes", "Bytes per batch; default 8388608 (8 MiB; whichever of rows/bytes comes first)."),
    note("stallTimeout", "No record moving for this long is a stall; default 10m."),
    note("stallAction", "warn (default): log which side is stuck; fail: also fail the job."),
];
