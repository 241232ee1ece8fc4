# sqm-monitor: one image for every command (`sqm worker`, `sqm generate`, `sqm topics apply`, ...).
# Build: docker build -t sqm-monitor .   Run: docker run sqm-monitor worker
# Multi-stage: the wheel is built in a throw-away stage; the runtime has no build tools and runs
# as an unprivileged user.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY topics ./topics
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SQM_METRICS_PORT=9310
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin sqm
USER 10001
EXPOSE 9310
# The worker's /healthz (SQM_METRICS_PORT): its processing loop made progress within 60 s. With
# TLS in metrics_web_config set SQM_HEALTHCHECK_URL=https://127.0.0.1:9310/healthz (the check
# does not verify the certificate: it talks to its own container).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, ssl, urllib.request; urllib.request.urlopen(os.environ.get('SQM_HEALTHCHECK_URL') or 'http://127.0.0.1:' + os.environ.get('SQM_METRICS_PORT', '9310') + '/healthz', timeout=4, context=ssl._create_unverified_context())"]
ENTRYPOINT ["sqm"]
CMD ["worker"]
