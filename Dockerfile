FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY consumers ./consumers
COPY producers ./producers
COPY contracts ./contracts
RUN pip install --no-cache-dir .
ENTRYPOINT []
CMD ["gateway", "--help"]
