# feeds as a container: docker build -t feeds . && docker run -p 8080:8080 feeds
# Volumes: /config (feeds.yaml), /output (the feed files), /state (SQLite).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY feeds ./feeds
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin feeds \
    && mkdir -p /config /output /state \
    && chown feeds:feeds /output /state
COPY config/sample-site ./sample-site
COPY deploy/feeds.docker.yaml /config/feeds.yaml

USER feeds
VOLUME ["/config", "/output", "/state"]
EXPOSE 8080
# /healthz answers 503 when a feed has failed too many runs in a row
HEALTHCHECK --interval=60s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["feeds", "--config", "/config/feeds.yaml", "run"]
