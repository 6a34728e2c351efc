# The Nudgescribe Reruns service: `nudgescribe serve` (API + processor) by default;
# docker-compose.yml runs the API and the processor as separate services.
FROM python:3.11-slim

# MALLOC_ARENA_MAX: glibc gives each busy thread its own heap and keeps what it frees;
# two heaps hold the server's peak ~100 MB lower under heavy load (BENCHMARKS.md).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
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
