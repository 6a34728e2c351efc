# The Nudgescribe Reruns service: `nudgescribe serve` (API + processor) by default;
# docker-compose.yml runs the API and the processor as separate services.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NUDGESCRIBE_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY application ./application
COPY projections ./projections
COPY api ./api
RUN pip install . \
    && useradd --system --home-dir /data --create-home nudgescribe
USER nudgescribe

EXPOSE 8000
CMD ["nudgescribe", "serve", "--host", "0.0.0.0", "--port", "8000"]
