FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends make postgresql-client && rm -rf /var/lib/apt/lists/*
COPY requirements/ requirements/
# torch is pinned; the CPU wheel index keeps the image small.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements/base.txt
COPY . .
# The compiled tree descents go into numba's cache in the image: no process compiles them at start-up.
RUN python -c "from detection.engine import kernels; kernels.warm_up()"
EXPOSE 8000
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000"]
