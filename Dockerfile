# One image for every process: web (gunicorn), worker(s) and the scheduler.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY channels ./channels
COPY workers ./workers
COPY migrations ./migrations
RUN pip install . && useradd --system --home /app pakn && mkdir -p /app/instance && chown pakn /app/instance
USER pakn
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "service:create_app()"]
