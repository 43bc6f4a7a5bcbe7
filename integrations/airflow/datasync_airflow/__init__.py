"""Apache Airflow provider for datasync: `DatasyncOperator` runs a datasync job."""

from datasync_airflow.operators import DatasyncOperator, exception_for_exit

__all__ = ["DatasyncOperator", "exception_for_exit", "get_provider_info"]


def get_provider_info():
    """What Airflow's provider manager lists for this package."""
    return {
        "package-name": "airflow-provider-datasync",
        "name": "datasync",
        "description": "Runs datasync (DataX-compatible batch sync) jobs.",
        "versions": ["0.1.0"],
    }
