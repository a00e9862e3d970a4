"""Bulk scoring jobs: files split into chunks scored by Celery workers, progress over websockets, the upload
pages and the jobs API."""
