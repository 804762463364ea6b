# The image the Helm chart in helm/regsearch runs: one image, every role
# (`regsearch serve`, `webhooks`, `indexer`, `search-api`, `crawl`).
#
#   docker build -t regsearch:0.1.0 .
#   docker run -p 8080:8080 regsearch:0.1.0            # serve, embedded logs
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it and the
# chart's runAsUser/fsGroup (10001) match the owner of the data directory.
RUN groupadd --system --gid 10001 regsearch \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/regsearch --shell /usr/sbin/nologin regsearch \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/regsearch

WORKDIR /src
COPY pyproject.toml README.md ./
COPY regsearch ./regsearch
COPY webhooks ./webhooks
COPY indexer ./indexer
COPY search_api ./search_api
# The README installs with `pip install -e .`; an image wants a regular
# install instead: an editable one only points back into /src, which is a
# build input, not something the running service should depend on.
RUN pip install .

WORKDIR /var/lib/regsearch
USER 10001:10001
# In a container the service must listen beyond loopback; the data directory
# is the one volume it writes (the chart mounts it, the root fs read-only).
ENV REGSEARCH_LISTEN=0.0.0.0:8080 \
    REGSEARCH_DATA_DIR=/var/lib/regsearch
EXPOSE 8080
ENTRYPOINT ["regsearch"]
CMD ["serve"]
