FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    RECTIFY_DATABASE_URL=sqlite:////data/rectify.db RECTIFY_EVIDENCE_DIR=/data/evidence
WORKDIR /srv/rectify
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY workflows ./workflows
COPY migrations ./migrations
RUN pip install --no-cache-dir -e '.[postgres]' \
 && useradd --system --uid 10001 --home /srv/rectify rectify \
 && mkdir -p /data && chown rectify /data
USER rectify
VOLUME /data
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request;urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["rectify", "serve", "--host", "0.0.0.0", "--port", "8000"]
