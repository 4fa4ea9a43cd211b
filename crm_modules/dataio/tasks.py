"""Imports and exports run on the bulk queue. An import task is acknowledged only when it ends
and is redelivered if its worker dies: the run continues after the last committed batch."""

from celery import shared_task

from crm_modules.dataio.services import exports, imports


@shared_task(acks_late=True, reject_on_worker_lost=True)
def import_run(job_id: int) -> None:
    imports.import_run(job_id=job_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def import_undo_run(job_id: int) -> None:
    imports.import_undo_run(job_id=job_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def export_run(job_id: int) -> None:
    exports.export_run(job_id=job_id)
