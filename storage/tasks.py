"""Background tasks of the records API (django-tasks; the worker of factory/worker.py runs
them): deletes and updates by filter too large to answer at once."""

from django_tasks import task

from storage.by_filter import job_run


@task()
def run_record_job(job_id: str) -> str:
    """Run a delete or update by filter job to its end (storage.by_filter.job_run)."""
    return job_run(job_id=job_id)
