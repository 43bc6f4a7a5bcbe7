//! `datasync submit slurm|k8s|yarn`: hands a planned run to a scheduler. Slurm gets an array
//! job of shards and a commit job that waits for it (submitted with `sbatch`, or printed with
//! `--dry-run`); Kubernetes an Indexed Job and a commit Job, YARN a Services spec and the
//! commit step (printed: apply them with your own credentials).

use crate::shard::{plan_or_load, EXIT_PERMANENT, EXIT_TRANSIENT};
use datasync_engine::shard::Plan;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What every `submit` takes.
#[derive(clap::Args)]
pub(crate) struct SubmitArgs {
    /// The job file (the same path on every node).
    pub(crate) job: PathBuf,
    /// Fill ${name}, as for `run`.
    #[arg(short = 'p', long = "param", allow_hyphen_values = true)]
    pub(crate) params: Vec<String>,
    /// Number of shards (planned now unless the plan directory holds a plan).
    #[arg(long)]
    pub(crate) shards: usize,
    /// The plan directory (shared by every shard and the commit).
    #[arg(long)]
    pub(crate) plan_dir: PathBuf,
    /// At most this many shards at once (default: all).
    #[arg(long)]
    pub(crate) max_parallel: Option<usize>,
    /// The datasync binary as the nodes see it.
    #[arg(long, default_value = "datasync")]
    pub(crate) binary: String,
    /// Attempts per shard before the run fails.
    #[arg(long, default_value_t = 3)]
    pub(crate) attempts: u32,
}

/// `datasync submit`'s schedulers.
#[derive(clap::Subcommand)]
pub(crate) enum Scheduler {
    /// Slurm: an array job (`--array=0-(N-1)%K --requeue --signal=B:TERM@120`) and a commit
    /// job with `--dependency=afterany:<array>`, submitted with sbatch.
    Slurm {
        #[command(flatten)]
        a: SubmitArgs,
        /// Write the scripts and print the sbatch commands without submitting.
        #[arg(long)]
        dry_run: bool,
        /// Extra sbatch options for both jobs (e.g. `--partition=etl`), repeatable.
        #[arg(long = "sbatch-option", allow_hyphen_values = true)]
        sbatch: Vec<String>,
    },
    /// Kubernetes: prints an Indexed Job of the shards and the commit Job (JSON, for
    /// `kubectl apply -f`).
    K8s {
        #[command(flatten)]
        a: SubmitArgs,
        /// The image with datasync.
        #[arg(long)]
        image: String,
        /// The PersistentVolumeClaim that holds the plan directory, the job and the target.
        #[arg(long)]
        claim: String,
        /// Where the claim is mounted in the pods.
        #[arg(long, default_value = "/shared")]
        mount: String,
    },
    /// YARN: prints a YARN Services spec (one component, N containers) and the commit step.
    Yarn {
        #[command(flatten)]
        a: SubmitArgs,
        /// Memory per container, MB.
        #[arg(long, default_value_t = 2048)]
        memory_mb: u32,
        /// Cores per container.
        #[arg(long, default_value_t = 2)]
        cores: u32,
    },
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The `-p` values as `name=value`, split into those a scheduler artefact may show and the
/// secret ones (names with pass, pwd, secret, token, ...), which reach the shards through
/// `DATASYNC_PARAM_<name>` in their environment instead.
fn split_params(params: &[String]) -> (Vec<String>, Vec<(String, String)>) {
    let vars = datasync_engine::parse_vars(params).unwrap_or_default();
    let mut public = Vec::new();
    let mut secret = Vec::new();
    for (k, v) in vars {
        if datasync_engine::secrets::is_secret_name(&k) {
            secret.push((k, v));
        } else {
            public.push(format!("{k}={v}"));
        }
    }
    (public, secret)
}

/// The shard command line (without the shard index: the scheduler's environment gives it).
fn shard_command(a: &SubmitArgs, job: &Path, dir: &Path) -> Vec<String> {
    let mut cmd = vec![a.binary.clone(), "run".into(), job.display().to_string()];
    for p in split_params(&a.params).0 {
        cmd.push("-p".into());
        cmd.push(p);
    }
    cmd.extend([
        "--plan".into(),
        dir.display().to_string(),
        "--no-progress".into(),
        "--log-format".into(),
        "json".into(),
    ]);
    cmd
}

fn commit_command(a: &SubmitArgs, dir: &Path) -> Vec<String> {
    let mut cmd = vec![a.binary.clone(), "commit".into(), dir.display().to_string()];
    for p in split_params(&a.params).0 {
        cmd.push("-p".into());
        cmd.push(p);
    }
    cmd.extend(["--log-format".into(), "json".into()]);
    cmd
}

fn quoted(cmd: &[String]) -> String {
    cmd.iter()
        .map(|c| shell_quote(c))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The array job script: runs the shard under a TERM trap (Slurm's `--signal=B:TERM@120`
/// reaches the script, which passes it on; a preempted task is requeued by `--requeue`, a
/// cancelled one is not); a transient failure (75) requeues the task until its attempts are
/// used up.
pub(crate) fn slurm_array_script(a: &SubmitArgs, plan: &Plan, job: &Path, dir: &Path) -> String {
    let n = plan.shards;
    let k = a.max_parallel.unwrap_or(n).clamp(1, n.max(1));
    let logs = dir.join("slurm");
    format!(
        "#!/bin/bash\n\
         #SBATCH --job-name=datasync-{name}\n\
         #SBATCH --array=0-{last}%{k}\n\
         #SBATCH --requeue\n\
         #SBATCH --signal=B:TERM@120\n\
         #SBATCH --output={logs}/shard-%a-%A.log\n\
         # Shard I of planned run {run}: the index comes from SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN.\n\
         export DATASYNC_SHARD_COUNT={n}\n\
         {cmd} &\n\
         child=$!\n\
         trap 'kill -TERM \"$child\" 2>/dev/null' TERM\n\
         wait \"$child\"; rc=$?\n\
         while kill -0 \"$child\" 2>/dev/null; do wait \"$child\"; rc=$?; done\n\
         if [ \"$rc\" = {transient} ]; then\n\
         \x20 if [ \"${{SLURM_RESTART_COUNT:-0}}\" -lt {retries} ]; then\n\
         \x20   scontrol requeue \"${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}\"\n\
         \x20 fi\n\
         fi\n\
         exit \"$rc\"\n",
        name = plan.job_name,
        last = n.saturating_sub(1),
        logs = logs.display(),
        run = plan.run_id,
        cmd = quoted(&shard_command(a, job, dir)),
        transient = EXIT_TRANSIENT,
        retries = a.attempts.saturating_sub(1),
    )
}

/// The commit job script (it checks every shard's report itself: `afterany` also fires
/// after failed shards).
pub(crate) fn slurm_commit_script(a: &SubmitArgs, plan: &Plan, dir: &Path) -> String {
    format!(
        "#!/bin/bash\n\
         #SBATCH --job-name=datasync-{name}-commit\n\
         #SBATCH --output={logs}/commit-%j.log\n\
         exec {cmd}\n",
        name = plan.job_name,
        logs = dir.join("slurm").display(),
        cmd = quoted(&commit_command(a, dir)),
    )
}

/// The Kubernetes manifests: an Indexed Job of the shards and the commit Job, as a `List`.
pub(crate) fn k8s_manifest(
    a: &SubmitArgs,
    plan: &Plan,
    job: &Path,
    dir: &Path,
    image: &str,
    claim: &str,
    mount: &str,
) -> Value {
    let n = plan.shards;
    let name = k8s_name(&format!("datasync-{}-{}", plan.job_name, plan.run_id));
    let volume = json!([{"name": "shared", "persistentVolumeClaim": {"claimName": claim}}]);
    let mounts = json!([{"name": "shared", "mountPath": mount}]);
    let labels =
        json!({"app.kubernetes.io/name": "datasync", "datasync/run-id": k8s_name(&plan.run_id)});
    // Secret parameters come from a Kubernetes Secret, never from the manifest.
    let secret_env: Vec<Value> = split_params(&a.params)
        .1
        .iter()
        .map(|(k, _)| {
            json!({"name": format!("DATASYNC_PARAM_{k}"),
                   "valueFrom": {"secretKeyRef": {"name": format!("{name}-params"), "key": k}}})
        })
        .collect();
    let mut env = vec![json!({"name": "DATASYNC_SHARD_COUNT", "value": n.to_string()})];
    env.extend(secret_env.iter().cloned());
    let shards = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": format!("{name}-shards"), "labels": labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": n,
            "parallelism": a.max_parallel.unwrap_or(n).clamp(1, n.max(1)),
            "backoffLimitPerIndex": a.attempts.saturating_sub(1),
            "podFailurePolicy": {"rules": [
                {"action": "FailIndex", "onExitCodes": {"containerName": "shard", "operator": "In", "values": [EXIT_PERMANENT, 2]}},
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}
            ]},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 120,
                    "containers": [{
                        "name": "shard",
                        "image": image,
                        "command": shard_command(a, job, dir),
                        "env": env,
                        "volumeMounts": mounts,
                    }],
                    "volumes": volume,
                }
            }
        }
    });
    let commit = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": format!("{name}-commit"), "labels": labels,
                     "annotations": {"datasync/after": format!("{name}-shards")}},
        "spec": {
            "backoffLimit": 2,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "commit",
                        "image": image,
                        "command": commit_command(a, dir),
                        "env": secret_env,
                        "volumeMounts": mounts,
                    }],
                    "volumes": volume,
                }
            }
        }
    });
    json!({"apiVersion": "v1", "kind": "List", "items": [shards, commit]})
}

/// A Kubernetes object name: lower case letters, digits and '-', at most 63 characters.
fn k8s_name(s: &str) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(56);
    out.trim_matches('-').to_string()
}

/// The YARN Services spec: one component of N containers; each finds its shard from the
/// component instance id YARN gives it.
pub(crate) fn yarn_spec(
    a: &SubmitArgs,
    plan: &Plan,
    job: &Path,
    dir: &Path,
    memory_mb: u32,
    cores: u32,
) -> Value {
    let n = plan.shards;
    // YARN fills ${COMPONENT_INSTANCE_NAME} (shard-0, shard-1, ...; a restarted container
    // keeps its name); the shell takes the number after the last '-'.
    let cmd = format!(
        "name=${{COMPONENT_INSTANCE_NAME}}; DATASYNC_SHARD_INDEX=${{name##*-}} \
         DATASYNC_SHARD_COUNT={n} exec {}",
        quoted(&shard_command(a, job, dir))
    );
    json!({
        "name": k8s_name(&format!("datasync-{}-{}", plan.job_name, plan.run_id)),
        "version": "1.0",
        "lifetime": -1,
        "components": [{
            "name": "shard",
            "number_of_containers": n,
            "restart_policy": "ON_FAILURE",
            "launch_command": cmd,
            "resource": {"cpus": cores, "memory": memory_mb.to_string()},
            "configuration": {"properties": {
                "yarn.service.container-failure.retry.max": a.attempts.saturating_sub(1).to_string()
            }}
        }],
        "datasync_commit": quoted(&commit_command(a, dir)),
    })
}

/// `datasync submit ...`.
pub(crate) fn submit_command(s: Scheduler) -> ExitCode {
    let (Scheduler::Slurm { a, .. } | Scheduler::K8s { a, .. } | Scheduler::Yarn { a, .. }) = &s;
    let job = std::path::absolute(&a.job).unwrap_or_else(|_| a.job.clone());
    let dir = std::path::absolute(&a.plan_dir).unwrap_or_else(|_| a.plan_dir.clone());
    let plan = match plan_or_load(&job, &a.params, a.shards, &dir) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match &s {
        Scheduler::Slurm {
            dry_run, sbatch, ..
        } => submit_slurm(a, &plan, &job, &dir, *dry_run, sbatch),
        Scheduler::K8s {
            image,
            claim,
            mount,
            ..
        } => {
            for (what, p) in [("the job", &job), ("the plan directory", &dir)] {
                if !p.starts_with(mount) {
                    tracing::warn!(
                        "{what} {} is not under the claim's mount {mount}: the pods will not \
                         find it (give paths as the pods see them)",
                        p.display()
                    );
                }
            }
            let m = k8s_manifest(a, &plan, &job, &dir, image, claim, mount);
            crate::out(serde_json::to_string_pretty(&m).unwrap_or_default());
            say!(
                "datasync: apply the shards Job with `kubectl apply -f -`; create the commit Job \
                 only when it is complete (`kubectl wait --for=condition=complete \
                 job/<name>-shards`): a commit before that exits 1 and its Job fails{}",
                if split_params(&a.params).1.is_empty() {
                    String::new()
                } else {
                    "; the secret -p values come from the Secret <name>-params (one key per \
                     parameter name): create it first"
                        .to_string()
                }
            );
            ExitCode::SUCCESS
        }
        Scheduler::Yarn {
            memory_mb, cores, ..
        } => {
            let spec = yarn_spec(a, &plan, &job, &dir, *memory_mb, *cores);
            crate::out(serde_json::to_string_pretty(&spec).unwrap_or_default());
            say!(
                "datasync: launch with `yarn app -launch <name> spec.json` (remove the \
                 datasync_commit key first); when every container has finished, run the \
                 datasync_commit command{}",
                if split_params(&a.params).1.is_empty() {
                    String::new()
                } else {
                    "; the secret -p values are left out: give them to the containers and the \
                     commit as DATASYNC_PARAM_<name> environment variables"
                        .to_string()
                }
            );
            ExitCode::SUCCESS
        }
    }
}

fn submit_slurm(
    a: &SubmitArgs,
    plan: &Plan,
    job: &Path,
    dir: &Path,
    dry_run: bool,
    sbatch: &[String],
) -> ExitCode {
    let logs = dir.join("slurm");
    let array = logs.join("shards.sbatch");
    let commit = logs.join("commit.sbatch");
    let written = std::fs::create_dir_all(&logs)
        .and_then(|()| std::fs::write(&array, slurm_array_script(a, plan, job, dir)))
        .and_then(|()| std::fs::write(&commit, slurm_commit_script(a, plan, dir)));
    if let Err(e) = written {
        say!("datasync: submit: cannot write {}: {e}", logs.display());
        return ExitCode::from(1);
    }
    let array_cmd: Vec<String> = ["sbatch", "--parsable"]
        .iter()
        .map(|s| s.to_string())
        .chain(sbatch.iter().cloned())
        .chain([array.display().to_string()])
        .collect();
    if dry_run {
        if !split_params(&a.params).1.is_empty() {
            say!(
                "datasync: the secret -p values are not in the scripts: export them as \
                 DATASYNC_PARAM_<name> before running sbatch (sbatch passes the environment on)"
            );
        }
        say!("datasync: {}", quoted(&array_cmd));
        say!(
            "datasync: sbatch --parsable {}--dependency=afterany:<array job id> {}",
            sbatch
                .iter()
                .map(|s| format!("{} ", shell_quote(s)))
                .collect::<String>(),
            commit.display()
        );
        return ExitCode::SUCCESS;
    }
    // Secret parameters reach the jobs through the environment sbatch exports
    // (`DATASYNC_PARAM_<name>`), never through the scripts.
    let secret_env: Vec<(String, String)> = split_params(&a.params)
        .1
        .into_iter()
        .map(|(k, v)| (format!("DATASYNC_PARAM_{k}"), v))
        .collect();
    let run = |cmd: &[String]| -> Result<String, String> {
        let o = std::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .envs(secret_env.iter().map(|(k, v)| (k, v)))
            .output()
            .map_err(|e| format!("cannot run {}: {e}", cmd[0]))?;
        if !o.status.success() {
            return Err(format!(
                "{} failed: {}",
                quoted(cmd),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&o.stdout)
            .trim()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string())
    };
    let array_id = match run(&array_cmd) {
        Ok(id) => id,
        Err(e) => {
            say_error!("datasync: submit: {e}");
            return ExitCode::from(1);
        }
    };
    let commit_cmd: Vec<String> = ["sbatch", "--parsable"]
        .iter()
        .map(|s| s.to_string())
        .chain(sbatch.iter().cloned())
        .chain([
            format!("--dependency=afterany:{array_id}"),
            commit.display().to_string(),
        ])
        .collect();
    match run(&commit_cmd) {
        Ok(commit_id) => {
            say!(
                "datasync: submitted run {}: shards as array job {array_id} ({} task(s)), \
                 commit as job {commit_id}; logs in {}",
                plan.run_id,
                plan.shards,
                logs.display()
            );
            crate::out(format!("{array_id} {commit_id}"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            say!(
                "datasync: submit: the shards were submitted as array job {array_id}, but the \
                 commit was not: {e}; run `datasync commit {}` when they are done",
                dir.display()
            );
            ExitCode::from(1)
        }
    }
}
