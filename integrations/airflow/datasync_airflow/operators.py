"""`DatasyncOperator`: runs `datasync run` for a job file or a job given as a dict.

The binary's log goes to the task log line by line as it runs; its JSON report (`--report`)
goes to XCom (the task's return value on success; key `report` whenever datasync wrote one, so
a failed run's report is there too; a job it refused to start, exit 2, has none). Job
parameters reach datasync as `DATASYNC_PARAM_<name>` environment variables, never on its
command line (which the task log and `ps` show). Exit codes decide retries: a bad job (2), a run over its error limit (3),
a failed verification (4) or a shard that must not be retried (42) fail the task at once,
whatever its `retries`; a runtime failure (1), a shard asking to be retried (75) and a run
stopped by a signal are ordinary failures that Airflow retries as configured.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
from typing import Any, Sequence

try:  # Airflow 3
    from airflow.sdk import BaseOperator
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # Airflow 2
    from airflow.exceptions import AirflowException, AirflowFailException
    from airflow.models import BaseOperator

#: Exit codes after which running the same job again cannot succeed.
NO_RETRY = {
    2: "the job or its arguments are invalid",
    3: "the run exceeded its error limit (dirty records)",
    4: "the data failed verification",
    42: "the shard failed in a way a retry cannot fix",
}
#: Exit codes of a failure that a retry may fix.
RETRY = {
    1: "runtime failure",
    75: "the shard asks to be retried",
    130: "stopped by SIGINT",
    143: "stopped by SIGTERM",
}


def exception_for_exit(code: int) -> Exception | None:
    """The exception a task raises for datasync's exit `code` (None for success)."""
    if code == 0:
        return None
    if code in NO_RETRY:
        return AirflowFailException(f"datasync exited {code}: {NO_RETRY[code]} (not retried)")
    if code < 0:
        return AirflowException(f"datasync was killed by signal {-code}")
    return AirflowException(f"datasync exited {code}: {RETRY.get(code, 'failure')}")


class DatasyncOperator(BaseOperator):
    """Runs a datasync job.

    :param job: a job file path, or the job itself as a dict (written to a temporary file
        named after ``job_name``). Templated, nested strings included.
    :param job_params: ``-p NAME=VALUE`` values for the job's ``${NAME}`` placeholders.
        Templated.
    :param binary: the datasync executable (a path, or a name on PATH).
    :param job_name: the name of a dict job (datasync names staging and dirty files after
        it); default the task id.
    :param run_id: datasync's ``--run-id`` (default: datasync makes one). Templated; characters
        datasync does not take in a run id (Airflow's own ``{{ run_id }}`` has ``:`` and ``+``)
        become ``-``, leading ``.`` and ``_`` are dropped, and it is cut to 64 characters.
    :param lineage: ``--lineage FILE|URL`` for OpenLineage events. Templated.
    :param extra_args: further arguments of ``datasync run`` (e.g. ``["--dirty-file", ...]``).
    :param cwd: working directory of the run (relative paths in the job, and the default dirty
        file, are resolved there); default the job file's directory, or for a dict job the
        worker's working directory (with a warning: give ``cwd``). Templated.
    :param env: extra environment variables for the run (added to the worker's). Templated.
    """

    template_fields: Sequence[str] = (
        "job",
        "job_params",
        "run_id",
        "lineage",
        "extra_args",
        "cwd",
        "env",
        "binary",
    )
    template_fields_renderers = {"job": "json"}
    ui_color = "#cfe8f7"

    def __init__(
        self,
        *,
        job: str | dict,
        job_params: dict[str, Any] | None = None,
        binary: str = "datasync",
        job_name: str | None = None,
        run_id: str | None = None,
        lineage: str | None = None,
        extra_args: list[str] | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.job_params = job_params or {}
        self.binary = binary
        self.job_name = job_name
        self.run_id = run_id
        self.lineage = lineage
        self.extra_args = extra_args or []
        self.cwd = cwd
        self.env = env
        self._proc: subprocess.Popen | None = None

    def command(self, job_path: str, report_path: str) -> list[str]:
        """The `datasync run` command line (no parameter values: see `environment`)."""
        for a in self.extra_args:
            if str(a).split("=")[0] in ("--report", "-p", "--param"):
                raise AirflowFailException(
                    f"extra_args: {a} is set by the operator (report) or belongs in job_params"
                )
        cmd = [self.binary, "run", job_path, "--report", report_path]
        if self.run_id:
            rid = re.sub(r"[^A-Za-z0-9_.-]", "-", str(self.run_id)).lstrip("._")[:64]
            cmd += ["--run-id", rid]
        if self.lineage:
            cmd += ["--lineage", str(self.lineage)]
        return cmd + [str(a) for a in self.extra_args]

    def environment(self) -> dict[str, str]:
        """The run's environment: the worker's, `env`, and each job parameter as
        `DATASYNC_PARAM_<name>` (datasync fills `${name}` from it)."""
        env = dict(os.environ, **{str(k): str(v) for k, v in (self.env or {}).items()})
        for k, v in self.job_params.items():
            env[f"DATASYNC_PARAM_{k}"] = str(v)
        return env

    def execute(self, context: Any) -> Any:
        with tempfile.TemporaryDirectory(prefix="datasync-airflow-") as tmp:
            if isinstance(self.job, dict):
                name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.job_name or self.task_id)
                job_path = os.path.join(tmp, f"{name}.json")
                with open(job_path, "w", encoding="utf-8") as f:
                    json.dump(self.job, f)
                cwd = self.cwd or os.getcwd()
                if not self.cwd:
                    self.log.warning(
                        "cwd is not set: the job's relative paths (and its dirty file) are "
                        "under the worker's directory %s",
                        cwd,
                    )
            else:
                job_path = os.path.abspath(str(self.job))
                cwd = self.cwd or os.path.dirname(job_path)
            report_path = os.path.join(tmp, "report.json")
            try:
                code = self._run(self.command(job_path, report_path), cwd)
            except BaseException:
                # A timeout or kill raised while datasync runs: stop it the way it expects and
                # keep what it reports, before its directory goes away.
                self._stop()
                self._push_report(context, report_path)
                raise
            report = self._push_report(context, report_path)
        failure = exception_for_exit(code)
        if failure is not None:
            raise failure
        return report

    @staticmethod
    def _push_report(context: Any, report_path: str) -> Any:
        """Pushes the report (if datasync wrote one) to XCom as `report`; returns it."""
        if not os.path.exists(report_path):
            return None
        with open(report_path, encoding="utf-8") as f:
            report = json.load(f)
        context["ti"].xcom_push(key="report", value=report)
        return report

    def _run(self, cmd: list[str], cwd: str) -> int:
        """Runs `cmd` in `cwd`, its stdout and stderr streamed into the task log; its exit
        code."""
        names = ", ".join(sorted(str(k) for k in self.job_params)) or "none"
        self.log.info("running %s in %s (job parameters: %s)", " ".join(cmd), cwd, names)
        try:
            self._proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=self.environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as e:
            raise AirflowFailException(f"cannot start {cmd[0]}: {e}") from e
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.log.info("%s", line.rstrip("\n"))
        code = self._proc.wait()
        self.log.info("datasync exited %s", code)
        return code

    def _stop(self) -> None:
        """Stops a running datasync the way it expects (SIGTERM: it removes its staged
        output and writes its report), its last lines still logged; SIGKILL after 60 s."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        for line in (out or "").splitlines():
            self.log.info("%s", line)
        self.log.info("datasync stopped: exit %s", proc.returncode)

    def on_kill(self) -> None:
        """Stops the run the way datasync expects (SIGTERM: staged output removed)."""
        self._stop()
