//! Container-task mode on the command line: `datasync plan`, `datasync run --plan DIR
//! --shard I/N`, `datasync commit DIR`, `datasync abort DIR` (see `datasync_engine::shard`).

use crate::load_built;
use datasync_engine::shard::{
    self, load_plan, load_report, plan_hash, report_path, write_atomic, write_once, Plan,
    ShardError, ShardReport, ShardTask, ShardTasks, ABORTED, COMMITTED, COMMITTING, PLAN_FILE,
    PLAN_VERSION, SHARDS_DIR,
};
use datasync_engine::{JobControl, RunOptions, Status};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit codes of a shard, for schedulers.
pub(crate) const EXIT_TRANSIENT: u8 = 75;
/// Do not retry: the job is bad or the dirty limit was exceeded.
pub(crate) const EXIT_PERMANENT: u8 = 42;
const EXIT_USAGE: u8 = 2;

fn runtime() -> Result<tokio::runtime::Runtime, ShardError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ShardError::Transient(format!("starting the runtime: {e}")))
}

fn usage(e: impl std::fmt::Display) -> ShardError {
    ShardError::Usage(e.to_string())
}

/// The `-p` values worth keeping in a plan: all but those whose names say they are secret.
fn storable_params(params: &[String]) -> Result<Vec<String>, ShardError> {
    let vars = datasync_engine::parse_vars(params).map_err(|e| usage(format!("bad job: {e}")))?;
    Ok(vars
        .into_iter()
        .filter(|(k, _)| !datasync_engine::secrets::is_secret_name(k))
        .map(|(k, v)| format!("{k}={v}"))
        .collect())
}

/// Which `ShardError` becomes which exit code in `plan`, `commit` and `abort`.
fn exit_of(e: &ShardError) -> ExitCode {
    match e {
        ShardError::Usage(_) | ShardError::Permanent(_) => ExitCode::from(EXIT_USAGE),
        ShardError::Transient(_) => ExitCode::from(1),
    }
}

/// `datasync plan JOB --shards N --out DIR`.
pub(crate) fn plan_command(
    job: &Path,
    params: &[String],
    shards: usize,
    out: &Path,
    run_id: Option<&str>,
) -> ExitCode {
    match plan(job, params, shards, out, run_id) {
        Ok(p) => {
            let mut per = vec![0usize; p.shards];
            for t in &p.tasks {
                per[t.shard] += 1;
            }
            let spread = if p.shards <= 16 {
                per.iter()
                    .enumerate()
                    .map(|(i, n)| format!("shard {i}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                format!(
                    "{} to {} per shard",
                    per.iter().min().unwrap_or(&0),
                    per.iter().max().unwrap_or(&0)
                )
            };
            say!(
                "datasync: planned run {}: {} task(s) in {} shard(s) ({spread}) -> {}",
                p.run_id,
                p.tasks.len(),
                p.shards,
                out.join(PLAN_FILE).display()
            );
            say!(
                "datasync: run each shard with `datasync run {} --plan {} --shard I/{}`, then \
                 `datasync commit {}`",
                job.display(),
                out.display(),
                p.shards,
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            say_error!("datasync: plan: {e}");
            exit_of(&e)
        }
    }
}

/// `datasync submit`: the plan in `dir` when there is one (it must be for this job and
/// `shards`), else a new one made now. `Err`: the exit code, the reason said.
pub(crate) fn plan_or_load(
    job: &Path,
    params: &[String],
    shards: usize,
    dir: &Path,
) -> Result<Plan, ExitCode> {
    if dir.join(PLAN_FILE).exists() {
        let fail = |e: ShardError| {
            say_error!("datasync: submit: {e}");
            exit_of(&e)
        };
        let plan = load_plan(dir).map_err(fail)?;
        if plan.shards != shards {
            return Err(fail(usage(format!(
                "{} holds a plan of {} shard(s), not {shards}",
                dir.join(PLAN_FILE).display(),
                plan.shards
            ))));
        }
        join_run(&plan).map_err(fail)?;
        planned_job(dir, &plan, Some(job), params).map_err(fail)?;
        say!(
            "datasync: using the plan of run {} in {}",
            plan.run_id,
            dir.display()
        );
        return Ok(plan);
    }
    let code = plan_command(job, params, shards, dir, None);
    if code != ExitCode::SUCCESS {
        return Err(code);
    }
    load_plan(dir).map_err(|e| {
        say_error!("datasync: submit: {e}");
        exit_of(&e)
    })
}

fn plan(
    job: &Path,
    params: &[String],
    shards: usize,
    out: &Path,
    run_id: Option<&str>,
) -> Result<Plan, ShardError> {
    if shards == 0 {
        return Err(usage("--shards must be at least 1"));
    }
    if out.join(PLAN_FILE).exists() {
        return Err(usage(format!(
            "{} already holds a plan: use a new directory for a new run (or `datasync commit` / \
             `datasync abort` that one)",
            out.display()
        )));
    }
    if let Some(id) = run_id {
        datasync_engine::set_run_id(id).map_err(|e| usage(format!("--run-id: {e}")))?;
    }
    shard::set_planned();
    let stored = storable_params(params)?;
    let built = load_built(job, params).map_err(|e| usage(format!("bad job: {e}")))?;
    let channels = built.spec.setting.speed.channels();
    std::fs::create_dir_all(out.join(SHARDS_DIR))
        .map_err(|e| usage(format!("cannot create {}: {e}", out.display())))?;
    let rt = runtime()?;
    let tasks = rt.block_on(built.plan_tasks(shards, channels))?;
    let hash = plan_hash(&built.spec, shards, &tasks);
    if shards > tasks.len() {
        tracing::warn!(
            "{shards} shards for {} task(s): {} shard(s) have no task and only report",
            tasks.len(),
            shards - tasks.len()
        );
    }
    let abs = std::path::absolute(job).unwrap_or_else(|_| job.to_path_buf());
    let p = Plan {
        version: PLAN_VERSION,
        run_id: datasync_engine::run_id().to_string(),
        plan_hash: hash,
        shards,
        job: abs,
        params: stored,
        job_name: built.spec.name.clone(),
        reader: built.reader_name.to_string(),
        writer: built.writer_name.to_string(),
        created: shard::now(),
        tasks,
        watermark: built.incremental().map(|i| i.pending()).unwrap_or_default(),
    };
    let text = serde_json::to_vec_pretty(&p)
        .map_err(|e| ShardError::Transient(format!("cannot encode the plan: {e}")))?;
    let text = datasync_engine::secrets::redact(&String::from_utf8_lossy(&text)).into_owned();
    write_atomic(&out.join(PLAN_FILE), text.as_bytes()).map_err(|e| {
        ShardError::Transient(format!(
            "cannot write {}: {e}",
            out.join(PLAN_FILE).display()
        ))
    })?;
    Ok(p)
}

/// Loads the job the plan was made from (its file and stored parameters, plus `extra`) and
/// checks it is the same job.
fn planned_job(
    dir: &Path,
    plan: &Plan,
    job: Option<&Path>,
    extra: &[String],
) -> Result<datasync_engine::BuiltJob, ShardError> {
    let mut params = plan.params.clone();
    params.extend(extra.iter().cloned());
    let job = job.unwrap_or(&plan.job);
    let built = load_built(job, &params).map_err(|e| usage(format!("bad job: {e}")))?;
    let hash = plan_hash(&built.spec, plan.shards, &plan.tasks);
    if hash != plan.plan_hash {
        return Err(usage(format!(
            "the job {} (with its parameters) is not the one planned in {} (plan hash {}, this \
             job {hash}; secret values do not count): run it with the plan's job and -p values \
             (an edited plan.json does not match either), or make a new plan",
            job.display(),
            dir.join(PLAN_FILE).display(),
            plan.plan_hash
        )));
    }
    Ok(built)
}

/// Sets this process up as part of the plan's run.
fn join_run(plan: &Plan) -> Result<(), ShardError> {
    datasync_engine::set_run_id(&plan.run_id).map_err(usage)?;
    shard::set_planned();
    Ok(())
}

/// What `datasync run --plan` was given.
pub(crate) struct ShardArgs<'a> {
    pub(crate) job: &'a Path,
    pub(crate) params: &'a [String],
    pub(crate) dir: &'a Path,
    pub(crate) shard: Option<&'a str>,
    pub(crate) attempt: Option<&'a str>,
    pub(crate) dirty_file: Option<PathBuf>,
    pub(crate) progress: datasync_engine::progress::ProgressMode,
    pub(crate) report: Option<PathBuf>,
}

/// `datasync run JOB --plan DIR [--shard I/N]`: runs one shard; exit 0 (staged, or done
/// before), 75 (retry), 42 (do not retry), 2 (wrong plan or shard), 130/143 (signal).
pub(crate) fn shard_command(a: ShardArgs<'_>) -> ExitCode {
    match run_shard(a) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            say_error!("datasync: shard: {e}");
            ExitCode::from(match e {
                ShardError::Usage(_) => EXIT_USAGE,
                ShardError::Permanent(_) => EXIT_PERMANENT,
                ShardError::Transient(_) => EXIT_TRANSIENT,
            })
        }
    }
}

fn run_shard(a: ShardArgs<'_>) -> Result<u8, ShardError> {
    let plan = load_plan(a.dir)?;
    let env = |k: &str| std::env::var(k).ok();
    let (index, count) = shard::shard_index(a.shard, &env).map_err(usage)?;
    let count = count.unwrap_or(plan.shards);
    if count != plan.shards || index >= plan.shards {
        return Err(usage(format!(
            "shard {index}/{count} does not fit the plan in {}, which has {} shard(s) (0 to {})",
            a.dir.display(),
            plan.shards,
            plan.shards.saturating_sub(1)
        )));
    }
    join_run(&plan)?;
    crate::logjson::set_shard(format!("{index}/{}", plan.shards));
    if a.dir.join(COMMITTED).exists() {
        say!(
            "datasync: run {} was committed already: nothing to do for shard {index}",
            plan.run_id
        );
        return Ok(0);
    }
    if a.dir.join(ABORTED).exists() {
        return Err(ShardError::Permanent(format!(
            "run {} was aborted: shard {index} does not run",
            plan.run_id
        )));
    }
    if let Some(r) = load_report(a.dir, index)? {
        if r.run_id == plan.run_id && r.plan_hash == plan.plan_hash {
            say!(
                "datasync: shard {index}/{} of run {} was done already (attempt {}, {} record(s) \
                 staged): nothing to do",
                plan.shards,
                plan.run_id,
                r.attempt,
                r.records_written
            );
            return Ok(0);
        }
    }
    let built = planned_job(a.dir, &plan, Some(a.job), a.params).map_err(|e| match e {
        ShardError::Usage(m) if m.starts_with("bad job") => ShardError::Permanent(m),
        other => other,
    })?;
    let attempt = shard::attempt_name(a.attempt, &env);
    shard::set_attempt(&attempt);
    let mine: Vec<shard::PlannedTask> = plan
        .tasks
        .iter()
        .filter(|t| t.shard == index)
        .cloned()
        .collect();
    built.check_inputs(&mine)?;
    let tasks: Vec<(usize, serde_json::Value)> =
        mine.into_iter().map(|t| (t.id, t.split)).collect();
    let dirty_file = match a.dirty_file {
        Some(f) => f,
        None => {
            let d = a.dir.join("dirty");
            std::fs::create_dir_all(&d).map_err(|e| {
                ShardError::Transient(format!("cannot create {}: {e}", d.display()))
            })?;
            d.join(format!("shard-{index}.jsonl"))
        }
    };
    tracing::info!(
        "shard {index}/{} of run {} (attempt {attempt}): {} task(s)",
        plan.shards,
        plan.run_id,
        tasks.len()
    );
    let opts = RunOptions {
        dirty_file,
        dirty_job: None,
        progress: a.progress,
        resume: false,
        keep_staging: false,
        shard: Some(ShardTasks {
            tasks,
            total: plan.tasks.len(),
        }),
        metrics: None,
        full: false,
    };
    let rt = runtime()?;
    let mut report = rt.block_on(async {
        let control = JobControl::new();
        let signals = tokio::spawn(crate::watch_signals(control.clone()));
        let report = datasync_engine::run(built, opts, control).await;
        signals.abort();
        report
    });
    let shard_line = format!(
        "{index}/{} of planned run {} (attempt {attempt})",
        plan.shards, plan.run_id
    );
    report.shard = Some(shard_line.clone());
    let mut code: u8 = match report.status {
        Status::Succeeded => 0,
        Status::ErrorLimitExceeded | Status::VerificationFailed => EXIT_PERMANENT,
        Status::Interrupted => u8::try_from(report.exit_code).unwrap_or(143),
        // Aborted while it ran (its staging went), or the run's staging is gone: a retry
        // would only be refused.
        Status::Failed
            if a.dir.join(ABORTED).exists()
                || report
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("the planned run's staging is gone")) =>
        {
            EXIT_PERMANENT
        }
        Status::Failed => EXIT_TRANSIENT,
    };
    if code == 0 {
        if let Err(e) = fault_hook(index) {
            report.status = Status::Failed;
            report.error = Some(e);
            code = EXIT_TRANSIENT;
        }
    }
    if code == 0 {
        let sr = shard_report(&plan, index, &attempt, &report);
        let written = serde_json::to_vec_pretty(&sr)
            .map_err(std::io::Error::other)
            .and_then(|b| write_atomic(&report_path(a.dir, index), &b));
        if let Err(e) = written {
            report.status = Status::Failed;
            report.error = Some(format!(
                "cannot write the shard report {}: {e}",
                report_path(a.dir, index).display()
            ));
            code = EXIT_TRANSIENT;
        }
    }
    report.exit_code = i32::from(code);
    report.shard = Some(match code {
        0 => format!(
            "{shard_line}: staged; `datasync commit {}` publishes it",
            a.dir.display()
        ),
        EXIT_PERMANENT => format!("{shard_line}: failed for good; do not retry it"),
        _ => format!("{shard_line}: not staged whole; its next attempt replaces what it staged"),
    });
    if let Some(path) = &a.report {
        if let Err(e) = crate::write_report(path, &report) {
            say_error!("datasync: {e:#}");
        }
    }
    crate::say_report(&report);
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(code)
}

/// Test hook: `DATASYNC_TEST_FAIL_SHARD_ONCE=I:MARKER` fails shard I once, after it staged
/// everything and before its report (the worst moment), creating MARKER so that its next
/// attempt goes through.
fn fault_hook(index: usize) -> Result<(), String> {
    let Ok(v) = std::env::var("DATASYNC_TEST_FAIL_SHARD_ONCE") else {
        return Ok(());
    };
    let Some((i, marker)) = v.split_once(':') else {
        return Ok(());
    };
    if i.trim() != index.to_string() || Path::new(marker).exists() {
        return Ok(());
    }
    let _ = std::fs::write(marker, b"failed once\n");
    Err("DATASYNC_TEST_FAIL_SHARD_ONCE: failing this attempt on purpose".into())
}

fn shard_report(
    plan: &Plan,
    index: usize,
    attempt: &str,
    r: &datasync_engine::Report,
) -> ShardReport {
    let staged: std::collections::BTreeMap<usize, Option<String>> =
        r.staged.iter().cloned().collect();
    let mut figures: std::collections::BTreeMap<usize, datasync_engine::verify::Figures> =
        r.task_figures.iter().cloned().collect();
    ShardReport {
        run_id: plan.run_id.clone(),
        plan_hash: plan.plan_hash.clone(),
        shard: index,
        shards: plan.shards,
        attempt: attempt.to_string(),
        host: datasync_engine::runstate::hostname(),
        start: r.start.clone(),
        end: r.end.clone(),
        records_read: r.records_read,
        records_written: r.records_written,
        bytes_read: r.bytes_read,
        bytes_written: r.bytes_written,
        dirty_records: r.dirty_records,
        dirty_file: r.dirty_file.clone(),
        retries: r.retries,
        tasks: r
            .task_reports
            .iter()
            .map(|t| ShardTask {
                id: t.id,
                records_read: t.records_read,
                records_written: t.records_written,
                staged: staged.get(&t.id).cloned().flatten(),
                figures: figures.remove(&t.id),
            })
            .collect(),
    }
}

/// `datasync commit DIR`.
pub(crate) fn commit_command(dir: &Path, params: &[String]) -> ExitCode {
    match commit(dir, params) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            say_error!("datasync: commit: {e}");
            exit_of(&e)
        }
    }
}

/// Holds the plan directory's lock: one `commit` or `abort` at a time.
fn lock_plan(dir: &Path, plan: &Plan) -> Result<std::fs::File, ShardError> {
    let path = dir.join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| ShardError::Transient(format!("cannot open {}: {e}", path.display())))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(ShardError::Transient(format!(
            "another commit or abort of run {} is running on {} (it holds {}): wait for it",
            plan.run_id,
            dir.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(ShardError::Transient(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

fn commit(dir: &Path, params: &[String]) -> Result<u8, ShardError> {
    let plan = load_plan(dir)?;
    join_run(&plan)?;
    let _lock = lock_plan(dir, &plan)?;
    if let Ok(text) = std::fs::read_to_string(dir.join(COMMITTED)) {
        say!(
            "datasync: run {} was committed already ({}): nothing to do",
            plan.run_id,
            text.trim()
        );
        return Ok(0);
    }
    if dir.join(ABORTED).exists() {
        return Err(ShardError::Permanent(format!(
            "run {} was aborted: there is nothing to commit",
            plan.run_id
        )));
    }
    let mut reports = Vec::new();
    let mut missing = Vec::new();
    for i in 0..plan.shards {
        match load_report(dir, i)? {
            Some(r) if r.run_id == plan.run_id && r.plan_hash == plan.plan_hash => reports.push(r),
            Some(r) => {
                return Err(ShardError::Permanent(format!(
                    "{} belongs to run {} (plan hash {}), not to this plan's run {} ({})",
                    report_path(dir, i).display(),
                    r.run_id,
                    r.plan_hash,
                    plan.run_id,
                    plan.plan_hash
                )))
            }
            None => missing.push(i.to_string()),
        }
    }
    if !missing.is_empty() {
        say!(
            "datasync: commit: {} of {} shard(s) have not finished (no report in {}): shard(s) {}; \
             nothing was published",
            missing.len(),
            plan.shards,
            dir.join(SHARDS_DIR).display(),
            missing.join(", ")
        );
        return Ok(1);
    }
    // Every planned task is in its shard's report, once: nothing planned goes unpublished.
    for r in &reports {
        let mut want: Vec<usize> = plan
            .tasks
            .iter()
            .filter(|t| t.shard == r.shard)
            .map(|t| t.id)
            .collect();
        let mut got: Vec<usize> = r.tasks.iter().map(|t| t.id).collect();
        want.sort_unstable();
        got.sort_unstable();
        if want != got {
            return Err(ShardError::Permanent(format!(
                "{} reports tasks {got:?}, the plan gives shard {} tasks {want:?}: run that \
                 shard again (remove its report first); nothing was published",
                report_path(dir, r.shard).display(),
                r.shard
            )));
        }
    }
    let built = planned_job(dir, &plan, None, params)?;
    let read: u64 = reports.iter().map(|r| r.records_read).sum();
    let written: u64 = reports.iter().map(|r| r.records_written).sum();
    let dirty: u64 = reports.iter().map(|r| r.dirty_records).sum();
    let bytes: u64 = reports.iter().map(|r| r.bytes_written).sum();
    let limit = &built.spec.setting.error_limit;
    let over = match (limit.record, limit.percentage) {
        (Some(max), _) if dirty > max => Some(format!(
            "{dirty} dirty record(s) over all shards, more than errorLimit.record = {max}"
        )),
        (_, Some(max)) if read + dirty > 0 && dirty as f64 / (read + dirty) as f64 > max => {
            Some(format!(
                "{dirty} dirty of {} records over all shards, more than errorLimit.percentage = {max}",
                read + dirty
            ))
        }
        _ => None,
    };
    if let Some(why) = over {
        say!(
            "datasync: commit: {why}: nothing was published (the dirty records are in {}; \
             `datasync abort {}` removes the staged output)",
            dir.join("dirty").display(),
            dir.display()
        );
        return Ok(3);
    }
    let rt = runtime()?;
    let verified = rt.block_on(async {
        let joined = built
            .join_planned()
            .await
            .map_err(|e| ShardError::Transient(e.chain()))?;
        if !joined {
            if dir.join(COMMITTING).exists() {
                // A commit killed after it had published: its staging is gone.
                say!(
                    "datasync: the earlier commit of run {} had published (its staging is \
                     gone); marking it committed",
                    plan.run_id
                );
                return Ok(None);
            }
            return Err(ShardError::Permanent(format!(
                "the staging of run {} is gone (removed by hand?): nothing can be published; \
                 make a new plan",
                plan.run_id
            )));
        }
        let staged: Vec<datasync_engine::plugin::StagedTask> = reports
            .iter()
            .flat_map(|r| r.tasks.iter())
            .map(|t| datasync_engine::plugin::StagedTask {
                id: t.id,
                staged: t.staged.clone(),
                records: t.records_written,
            })
            .collect();
        // A commit killed half-way is finished, not checked again (files already moved).
        let first = !dir.join(COMMITTING).exists();
        built.adopt_staged(&staged, first).await.map_err(|e| {
            ShardError::Permanent(format!(
                "{}: run the shard of that task again (remove its report in {} first); \
                 nothing was published",
                e.chain(),
                dir.join(SHARDS_DIR).display()
            ))
        })?;
        // job.verify over the shards' summed figures: on the staged output before anything
        // is published, or on the target once it is.
        let before = built.verify_before_commit();
        if first && before == Some(true) {
            if let Some(code) = verify_shards(&built, &reports, written, false).await? {
                return Ok(Some(code));
            }
        }
        write_atomic(&dir.join(COMMITTING), shard::now().as_bytes())
            .map_err(|e| ShardError::Transient(format!("cannot write {COMMITTING}: {e}")))?;
        built
            .commit_planned()
            .await
            .map_err(|e| ShardError::Transient(format!("writer commit: {}", e.chain())))?;
        if first && before == Some(false) {
            return verify_shards(&built, &reports, written, true).await;
        }
        Ok(None)
    })?;
    if verified.is_some_and(|code| code != 0) && !dir.join(COMMITTING).exists() {
        say!(
            "datasync: commit: nothing was published; `datasync abort {}` removes the staged \
             output",
            dir.display()
        );
        return Ok(verified.unwrap_or(4));
    }
    // Published: an incremental job's watermark moves now (again, harmlessly, when a commit
    // killed before it was marked committed is finished) unless the target failed its
    // verification.
    if let Some(inc) = built.incremental().filter(|_| verified.is_none()) {
        runtime()?
            .block_on(inc.record(plan.watermark.clone(), &plan.run_id))
            .map_err(|e| {
                ShardError::Transient(format!(
                "the run is published, but its watermark was not recorded ({e}): run `datasync \
                 commit {}` again to record it",
                dir.display()
            ))
            })?;
    }
    let summary = format!(
        "{} by {} on {}: {written} record(s), {} written by {} shard(s); {dirty} dirty",
        shard::now(),
        std::process::id(),
        datasync_engine::runstate::hostname(),
        datasync_engine::report::human_bytes(bytes),
        plan.shards
    );
    let first = write_once(&dir.join(COMMITTED), summary.as_bytes())
        .map_err(|e| ShardError::Transient(format!("cannot write {COMMITTED}: {e}")))?;
    if let Some(code) = verified {
        return Ok(code);
    }
    if !first {
        say!("datasync: run {} was committed already", plan.run_id);
        return Ok(0);
    }
    say!(
        "datasync: committed run {} ({} -> {}): {written} record(s) written by {} shard(s), \
         {read} read, {dirty} dirty{}",
        plan.run_id,
        plan.reader,
        plan.writer,
        plan.shards,
        if dirty > 0 {
            format!(" (in {})", dir.join("dirty").display())
        } else {
            String::new()
        }
    );
    Ok(0)
}

/// `job.verify` of a planned run: the reader-side figures every shard reported for its
/// tasks, summed, against the target (`committed`: published already). `Some(exit code)`
/// when the run fails its verification.
async fn verify_shards(
    built: &datasync_engine::BuiltJob,
    reports: &[ShardReport],
    written: u64,
    committed: bool,
) -> Result<Option<u8>, ShardError> {
    let mut source = datasync_engine::verify::Figures::default();
    for r in reports {
        for t in &r.tasks {
            let Some(f) = &t.figures else {
                return Err(ShardError::Permanent(format!(
                    "shard {}'s report has no job.verify figures for task {} (the shard ran \
                     without job.verify, or with another version): run that shard again; \
                     nothing was published",
                    r.shard, t.id
                )));
            };
            source.merge(f);
        }
    }
    let (outcomes, failed) = built.verify_planned(&source, written, committed).await;
    for o in &outcomes {
        say!("  verify    {}", o.line());
    }
    Ok(failed.map(|(code, why)| {
        say_error!("datasync: commit: {why}");
        u8::try_from(code).unwrap_or(1)
    }))
}

/// `datasync abort DIR`.
pub(crate) fn abort_command(dir: &Path, params: &[String]) -> ExitCode {
    match abort(dir, params) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say_error!("datasync: abort: {e}");
            exit_of(&e)
        }
    }
}

fn abort(dir: &Path, params: &[String]) -> Result<(), ShardError> {
    let plan = load_plan(dir)?;
    join_run(&plan)?;
    let _lock = lock_plan(dir, &plan)?;
    if dir.join(COMMITTED).exists() {
        return Err(ShardError::Permanent(format!(
            "run {} was committed: its output is published and cannot be aborted",
            plan.run_id
        )));
    }
    let built = planned_job(dir, &plan, None, params)?;
    // A commit that failed before it was decided published nothing (its staging is there,
    // whole) and may be aborted; one that was decided, or that published already (its
    // staging is gone), can only go forward.
    if dir.join(COMMITTING).exists() {
        let rt = runtime()?;
        let staged = rt
            .block_on(built.join_planned())
            .map_err(|e| ShardError::Transient(e.chain()))?;
        if built.commit_decided() || !staged {
            return Err(ShardError::Permanent(format!(
                "run {} was being committed and its commit was decided or done: run `datasync \
                 commit {}` again to finish it (it publishes nothing twice)",
                plan.run_id,
                dir.display()
            )));
        }
    }
    write_atomic(&dir.join(ABORTED), shard::now().as_bytes())
        .map_err(|e| ShardError::Transient(format!("cannot write {ABORTED}: {e}")))?;
    let rt = runtime()?;
    rt.block_on(built.abort_planned())
        .map_err(|e| ShardError::Transient(format!("writer abort: {}", e.chain())))?;
    say!(
        "datasync: aborted run {}: its staged output is removed; a shard that starts now does \
         nothing, one still running fails",
        plan.run_id
    );
    Ok(())
}
