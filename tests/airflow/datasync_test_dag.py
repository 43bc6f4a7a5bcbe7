"""A DAG of DatasyncOperator tasks for tests/airflow.rs. Copied into $AIRFLOW_HOME/dags (where
Airflow parses it) and run as a script: `dag.test()` runs the DAG in real Airflow (SQLite
metadata database made by `airflow db migrate`), then one JSON line per task gives its final
state, its try number, and the report XCom's status and record count.

Environment: DATASYNC_BIN (the binary), DATASYNC_WORK (working directory), DATASYNC_GOOD_JOB
(a job writing to ${out}), DATASYNC_BAD_JOB (a job that exceeds its error limit).
"""
import datetime
import json
import os

from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from datasync_airflow import DatasyncOperator, exception_for_exit

binary = os.environ["DATASYNC_BIN"]
workdir = os.environ["DATASYNC_WORK"]
good_job = os.environ["DATASYNC_GOOD_JOB"]
bad_job = os.environ["DATASYNC_BAD_JOB"]
slow_job = os.environ["DATASYNC_SLOW_JOB"]
token = os.environ["DATASYNC_TOKEN"]

with DAG(dag_id="datasync_test", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
    # A job file with a templated parameter and a lineage file.
    from_file = DatasyncOperator(
        task_id="from_file",
        job=good_job,
        job_params={"out": "{{ params.out_dir }}", "token": token},
        lineage=workdir + "/lineage-{{ ds_nodash }}.jsonl",
        binary=binary,
        cwd=workdir,
        params={"out_dir": "out_file"},
    )
    # The same job as a dict, its placeholder rendered by Airflow itself.
    with open(good_job, encoding="utf-8") as f:
        job_dict = json.load(f)
    job_dict["job"]["content"][0]["writer"]["parameter"]["path"] = "{{ params.out_dir }}"
    from_dict = DatasyncOperator(
        task_id="from_dict",
        job=job_dict,
        job_params={"token": token},
        binary=binary,
        cwd=workdir,
        params={"out_dir": "out_dict"},
    )
    # Over its error limit (exit 3): failed at once although retries are allowed.
    over_limit = DatasyncOperator(
        task_id="over_limit",
        job=bad_job,
        binary=binary,
        cwd=workdir,
        retries=3,
        retry_delay=datetime.timedelta(seconds=1),
    )
    # Stopped by its execution timeout: datasync gets SIGTERM, its report still reaches XCom.
    timed_out = DatasyncOperator(
        task_id="timed_out",
        job=slow_job,
        binary=binary,
        cwd=workdir,
        execution_timeout=datetime.timedelta(seconds=3),
    )
    from_file >> from_dict


def main():
    """Runs the DAG once and prints what happened to each task."""
    from airflow.models import TaskInstance
    from airflow.models.xcom import XComModel as XCom
    from airflow.utils.session import create_session

    run = dag.test()
    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id).all()
        for ti in sorted(tis, key=lambda t: t.task_id):
            xcom = (
                session.query(XCom)
                .filter(XCom.run_id == run.run_id, XCom.task_id == ti.task_id, XCom.key == "report")
                .first()
            )
            report = xcom.value if xcom is not None else None
            if isinstance(report, str):
                report = json.loads(report)
            print(json.dumps({
                "task": ti.task_id,
                "state": str(ti.state),
                "try": ti.try_number,
                "report_status": report.get("status") if report else None,
                "records_written": report.get("records_written") if report else None,
            }))

    # The exit code mapping beyond what these runs reach.
    assert isinstance(exception_for_exit(75), AirflowException)
    assert not isinstance(exception_for_exit(75), AirflowFailException)
    assert not isinstance(exception_for_exit(1), AirflowFailException)
    for code in (2, 3, 4, 42):
        assert isinstance(exception_for_exit(code), AirflowFailException), code
    assert exception_for_exit(0) is None
    print(json.dumps({"mapping": "ok"}))


if __name__ == "__main__":
    main()
