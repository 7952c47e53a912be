# partner-bridge: the daemon (`bridge run`) on its embedded defaults.
# Build: docker build -t partner-bridge .
# Run:   docker run -p 8080:8080 -v "$PWD/mapping.yaml:/config/mapping.yaml:ro" \
#          -v bridge-data:/data --env-file .env partner-bridge

FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY bridge ./bridge
COPY sync ./sync
RUN python -m venv /opt/bridge \
 && /opt/bridge/bin/pip install --no-compile .

FROM python:3.11-slim
# WeasyPrint (PDF statements) needs Pango/HarfBuzz and a font with Cyrillic.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
      libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
LABEL org.opencontainers.image.title="partner-bridge" \
      org.opencontainers.image.description="Mirrors partner deals between Bitrix24 and partner CRMs"
RUN groupadd --system --gid 10001 bridge \
 && useradd --system --uid 10001 --gid bridge --home-dir /data --shell /usr/sbin/nologin bridge \
 && mkdir -p /data /config \
 && chown bridge:bridge /data
COPY --from=build /opt/bridge /opt/bridge
ENV PATH=/opt/bridge/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BRIDGE_MAPPING=/config/mapping.yaml \
    BRIDGE_DB_URL=sqlite:////data/bridge.db \
    BRIDGE_HTTP_HOST=0.0.0.0 \
    BRIDGE_HTTP_PORT=8080
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["bridge"]
CMD ["run"]
