"""Training, retraining and activating model versions, and their Celery tasks."""
