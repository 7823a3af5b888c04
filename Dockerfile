# One image for every Runbook process; compose.yaml picks the command.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tables ./tables
COPY runbook ./runbook
COPY rules_service ./rules_service
COPY action_service ./action_service
COPY connectors ./connectors
RUN pip install --no-cache-dir .
RUN useradd --create-home runbook
USER runbook
ENV RUNBOOK_HOST=0.0.0.0
