# Stage 1: build the wheel from the package sources (tests/unit/test_packaging.py builds the
# same wheel from these COPY lines and runs it installed).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY consumers ./consumers
COPY producers ./producers
COPY contracts ./contracts
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Stage 2: the runtime, the wheel and its dependencies only, run as a user without privileges.
FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/custody-gateway \
        --create-home gateway
ENV GATEWAY_OPS_HOST=0.0.0.0 \
    GATEWAY_STATE_DIR=/var/lib/custody-gateway \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/custody-gateway
EXPOSE 8080
# /ready answers 503 until the registry has caught up with its topics: urlopen raises on it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/ready', timeout=4)"]
CMD ["gateway", "--help"]
