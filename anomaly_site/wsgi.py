import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anomaly_site.settings")
application = get_wsgi_application()

from anomaly_site.warmup import warm_up_serving_process  # noqa: E402

warm_up_serving_process()
