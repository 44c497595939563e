# Build the wheel, then install only the wheel (no source tree in the image).
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    RECTIFY_DATABASE_URL=sqlite:////data/rectify.db RECTIFY_EVIDENCE_DIR=/data/evidence
COPY --from=build /wheels /wheels
# The service runs as uid 10001: a volume mounted at /data must be writable by it
# (docker named volumes inherit the owner set here; for a bind mount run
# `chown -R 10001 DIR` on the host).
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
 && useradd --system --uid 10001 --no-create-home --home-dir /data rectify \
 && mkdir -p /data && chown 10001 /data
USER 10001
WORKDIR /data
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
# SIGTERM (docker stop) lets in-flight requests and the worker's current round finish;
# give it more than the default 10 s: docker stop -t 60.
STOPSIGNAL SIGTERM
CMD ["rectify", "serve", "--host", "0.0.0.0", "--port", "8000"]
