# Kith's production image: `docker compose up` runs it as `kith serve`, `kith worker` and
# `kith migrate` against the PostgreSQL of docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg (with ffprobe) processes video and audio uploads.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
RUN pip install . \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home kith \
    && mkdir -p /data \
    && chown kith:kith /data

USER kith
WORKDIR /data
ENV KITH_DATA_DIR=/data \
    KITH_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080

ENTRYPOINT ["kith"]
CMD ["serve"]
