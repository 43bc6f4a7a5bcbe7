"""`DatasyncOperator`: runs `datasync run` for a job file or a job given as a dict.

The binary's log goes to the task log line by line as it runs; its JSON report (`--report`)
goes to XCom (the task's return value on success, key `report` always, so a failed run's
report is there too). Exit codes decide retries: a bad job (2), a run over its error limit (3),
a failed verification (4) or a shard that must not be retried (42) fail the task at once,
whatever its `retries`; a runtime failure (1), a shard asking to be retried (75) and a run
stopped by a signal are ordinary failures that Airflow retries as configured.
"""

from __future__ import annotations

import json
import os
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
    :param run_id: datasync's ``--run-id`` (default: datasync makes one). Templated.
    :param lineage: ``--lineage FILE|URL`` for OpenLineage events. Templated.
    :param extra_args: further arguments of ``datasync run`` (e.g. ``["--dirty-file", ...]``).
    :param cwd: working directory of the run (relative paths in the job are resolved there).
    :param env: extra environment variables for the run (added to the worker's).
    """

    template_fields: Sequence[str] = ("job", "job_params", "run_id", "lineage", "extra_args")
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
        """The `datasync run` command line."""
        cmd = [self.binary, "run", job_path, "--report", report_path]
        for k, v in self.job_params.items():
            cmd += ["-p", f"{k}={v}"]
        if self.run_id:
            cmd += ["--run-id", str(self.run_id)]
        if self.lineage:
            cmd += ["--lineage", str(self.lineage)]
        return cmd + [str(a) for a in self.extra_args]

    def execute(self, context: Any) -> Any:
        with tempfile.TemporaryDirectory(prefix="datasync-airflow-") as tmp:
            if isinstance(self.job, dict):
                name = self.job_name or self.task_id
                job_path = os.path.join(tmp, f"{name}.json")
                with open(job_path, "w", encoding="utf-8") as f:
                    json.dump(self.job, f)
            else:
                job_path = str(self.job)
            report_path = os.path.join(tmp, "report.json")
            code = self._run(self.command(job_path, report_path))
            report = None
            if os.path.exists(report_path):
                with open(report_path, encoding="utf-8") as f:
                    report = json.load(f)
                context["ti"].xcom_push(key="report", value=report)
        failure = exception_for_exit(code)
        if failure is not None:
            raise failure
        return report

    def _run(self, cmd: list[str]) -> int:
        """Runs `cmd`, its stdout and stderr streamed into the task log; its exit code."""
        self.log.info("running %s", " ".join(cmd))
        env = dict(os.environ, **(self.env or {}))
        self._proc = subprocess.Popen(
            cmd,
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.log.info("%s", line.rstrip("\n"))
        code = self._proc.wait()
        self.log.info("datasync exited %s", code)
        return code

    def on_kill(self) -> None:
        """Stops the run the way datasync expects (SIGTERM: staged output removed)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
