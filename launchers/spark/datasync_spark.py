"""Run one datasync job as N shards on Spark.

The driver plans the job (`datasync plan`), runs one Spark task per shard (each executes
`datasync run JOB --plan DIR --shard I/N`; a non-zero exit raises, so Spark retries the task
up to spark.task.maxFailures), then publishes once (`datasync commit DIR`). Spark only
schedules and retries; datasync does the work and the exactly-once publish.

The job file, the plan directory and the job's local paths must be the same for the driver
and every executor (a shared mount); the binary is found on PATH, at --binary, or shipped
with `spark-submit --files /path/to/datasync` (then pass --binary datasync).

    spark-submit --master yarn --files ./datasync launchers/spark/datasync_spark.py \
        --binary datasync --shards 8 --plan-dir /shared/plans/orders-0131 \
        /shared/jobs/orders.json -p biz_date=2024-01-31
"""

import argparse
import os
import shutil
import subprocess
import sys

# Exit codes of a datasync shard.
EXIT_PERMANENT = 42


def resolve_binary(name):
    """The datasync binary: a path, a file shipped with --files, or a name on PATH."""
    if os.path.sep in name and os.path.exists(name):
        return os.path.abspath(name)
    try:
        from pyspark import SparkFiles

        shipped = SparkFiles.get(os.path.basename(name))
        if os.path.exists(shipped):
            os.chmod(shipped, 0o755)
            return shipped
    except Exception:  # not in a Spark process, or nothing shipped
        pass
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeError(f"datasync binary {name!r} not found (PATH, --files or a path)")


def params_args(params):
    out = []
    for p in params:
        out += ["-p", p]
    return out


def run(cmd, env=None):
    """Runs a datasync command, its log passed through; returns the exit code."""
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stderr.write(r.stdout)
    sys.stderr.flush()
    return r.returncode


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run a datasync job as shards on Spark.")
    ap.add_argument("job", help="the job file (same path on the driver and executors)")
    ap.add_argument("--shards", type=int, required=True)
    ap.add_argument("--plan-dir", required=True, help="shared plan directory (new per run)")
    ap.add_argument("-p", "--param", action="append", default=[], help="name=value")
    ap.add_argument("--binary", default="datasync")
    ap.add_argument("--run-id")
    ap.add_argument("--master", help="Spark master when not given by spark-submit")
    args = ap.parse_args(argv)

    from pyspark import SparkConf, SparkContext

    conf = SparkConf().setAppName(f"datasync {os.path.basename(args.job)}")
    if args.master:
        conf = conf.setMaster(args.master)
    sc = SparkContext.getOrCreate(conf)

    binary = resolve_binary(args.binary)
    job = os.path.abspath(args.job)
    plan_dir = os.path.abspath(args.plan_dir)
    params = params_args(args.param)
    plan = [binary, "plan", job, *params, "--shards", str(args.shards), "--out", plan_dir]
    if args.run_id:
        plan += ["--run-id", args.run_id]
    code = run(plan)
    if code != 0:
        raise SystemExit(f"datasync plan failed (exit {code})")

    shards, shipped_name = args.shards, args.binary

    def run_shard(i):
        from pyspark import TaskContext

        ctx = TaskContext.get()
        env = dict(os.environ)
        env["DATASYNC_SPARK_ATTEMPT"] = str(ctx.attemptNumber() if ctx else 0)
        # Resolved on the executor: a file shipped with --files lives in its own SparkFiles
        # directory, a name on its own PATH.
        exe = resolve_binary(shipped_name)
        cmd = [exe, "run", job, *params, "--plan", plan_dir, "--shard", f"{i}/{shards}",
               "--no-progress"]
        rc = run(cmd, env)
        if rc == EXIT_PERMANENT:
            # Returned, not raised: Spark would retry a raised task, and this one would
            # fail the same way (bad job, error limit).
            return (i, rc)
        if rc != 0:
            raise RuntimeError(f"datasync shard {i}/{shards}: exit {rc}; Spark retries it")
        return (i, rc)

    results = sc.parallelize(range(shards), shards).map(run_shard).collect()
    permanent = [i for i, rc in results if rc == EXIT_PERMANENT]
    if permanent:
        sc.stop()
        raise SystemExit(
            f"datasync shard(s) {permanent} failed for good (exit 42); nothing was published "
            f"(`datasync abort {plan_dir}` removes the staged output)")
    print(f"datasync_spark: {len(results)} shard(s) staged", file=sys.stderr)
    code = run([binary, "commit", plan_dir, *params])
    sc.stop()
    if code != 0:
        raise SystemExit(f"datasync commit failed (exit {code})")


if __name__ == "__main__":
    main()
