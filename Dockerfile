# The p2c services: one image, one `p2c` sub-command per container (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY p2c ./p2c
COPY schemas ./schemas
COPY connectors ./connectors
COPY streams ./streams
COPY registry ./registry
COPY sandbox ./sandbox
RUN pip install . && useradd --create-home p2c && mkdir /data && chown p2c /data

USER p2c
ENTRYPOINT ["p2c"]
CMD ["--help"]
