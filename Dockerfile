# feeds as a container: docker build -t feeds . && docker run -p 8080:8080 feeds
# Volumes: /config (a directory holding feeds.yaml: mount the directory, not the file, so
# that an edit is seen and reloaded), /output (the feed files), /state (what runs remember).
# Stopping: give it more than settings.stop_timeout (10 s): docker stop -t 20, or
# stop_grace_period: 20s in compose.
# Sources with `render: true` need the browser: docker build --build-arg BROWSER=1 -t feeds .
# (Debian's Chromium and Playwright; it runs as the image's non-root user with Chromium's
# sandbox on, which needs user namespaces: where Docker's seccomp profile refuses them,
# the browser does not start and the source says so; run the container with a seccomp
# profile that allows them, not as root.)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# where the server listens, whatever the mounted config says (it must be 0.0.0.0 here)
ENV FEEDS_SERVE_HOST=0.0.0.0 FEEDS_SERVE_PORT=8080

ARG BROWSER=0
# CLUSTER=1: the cluster extra (PostgreSQL, Celery, Redis), for deploy/cluster/
ARG CLUSTER=0
WORKDIR /app
COPY pyproject.toml README.md deploy/constraints.txt ./
COPY feeds ./feeds
RUN if [ "$BROWSER" = 1 ]; then \
        apt-get update && apt-get install -y --no-install-recommends chromium \
        && rm -rf /var/lib/apt/lists/* && pip install -c constraints.txt ".[browser]"; \
    fi \
    && if [ "$CLUSTER" = 1 ]; then pip install -c constraints.txt ".[cluster]"; fi \
    && pip install -c constraints.txt . \
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
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['FEEDS_SERVE_PORT'], timeout=4)"
STOPSIGNAL SIGTERM
CMD ["feeds", "--config", "/config/feeds.yaml", "run"]
