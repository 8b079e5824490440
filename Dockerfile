# The registry service. With PostgreSQL: see compose.yaml. Alone, it uses SQLite under /app/var.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN useradd --create-home --uid 10001 registry

COPY pyproject.toml README.md alembic.ini ./
COPY registry registry
COPY methodologies methodologies
COPY trading trading
COPY verification verification
COPY api api
COPY migrations migrations
# Editable, so that Alembic finds migrations/ beside the packages.
RUN pip install --no-cache-dir -e . && mkdir -p var && chown registry var

USER registry
VOLUME ["/app/var"]
EXPOSE 8000
# `cir serve` migrates the database and creates the signing key under var/ on first start.
CMD ["cir", "serve", "--host", "0.0.0.0", "--port", "8000"]
