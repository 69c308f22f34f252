# Porter's image: the one every workload in deploy/kubernetes/ runs (Rasa, the action servers, the web server, the
# refund worker, the db-upgrade Job). Built from the repository root with
#
#   docker build -t registry.example/porter:latest .
#
# The model is trained here with the command `make train` runs (Makefile, $(MODEL)) and the chat widget's bundle
# comes from npm as `make install-web` gets it, so a pod never trains, installs or downloads anything. The pods run
# as 10001:10001 on a read-only root filesystem with PORTER_VAR_DIR on /tmp (deploy/kubernetes/settings.yaml);
# outside Kubernetes, /app/var is the image user's own.

# The storefront widget: rasa-webchat's prebuilt bundle (bot/web/package-lock.json), the one file of node_modules the
# web server serves (bot/web/app.py, WIDGET_BUNDLE).
FROM node:20-bookworm-slim AS widget
WORKDIR /widget
COPY bot/web/package.json bot/web/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# Python 3.10 (Rasa 3.6 does not install on 3.11) with requirements.lock in a venv, as `make install` does.
FROM python:3.10-slim-bookworm AS venv
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --quiet --upgrade pip==24.0
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --quiet -r /tmp/requirements.lock

# The model, from the training inputs only (a change to actions/ or the README does not retrain).
FROM venv AS model
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 \
    PORTER_VAR_DIR=/app/var RASA_CACHE_DIRECTORY=/app/var/rasa-cache PYTHONWARNINGS=ignore::DeprecationWarning
COPY config.yml ./
COPY domain domain
COPY languages languages
COPY data data
COPY bot bot
RUN mkdir -p var/models \
    && rasa train --config config.yml --domain domain --data data --out var/models --fixed-model-name porter \
    && test -s var/models/porter.tar.gz

FROM python:3.10-slim-bookworm
# The user and group every manifest runs as (securityContext runAsUser/runAsGroup 10001).
RUN groupadd --gid 10001 porter \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/porter --shell /usr/sbin/nologin porter
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2
COPY --from=venv /opt/venv /opt/venv
# The manifests' commands name files relative to the project (var/models/porter.tar.gz, credentials.yml,
# endpoints.cluster.yml): the working directory is the project's root.
WORKDIR /app
COPY . .
COPY --from=widget /widget/node_modules/rasa-webchat/lib/index.js bot/web/node_modules/rasa-webchat/lib/index.js
# Compiled now: on a read-only root filesystem Python cannot write __pycache__ at start.
RUN python -m compileall -q bot actions \
    && mkdir -p var/models && chown -R 10001:10001 var && chmod 700 var
COPY --from=model --chown=10001:10001 /app/var/models/porter.tar.gz var/models/porter.tar.gz
USER 10001:10001
# Rasa (REST, socket.io, webhooks, HTTP API), the action server, the web server.
EXPOSE 5005 5055 8080
CMD ["python", "-m", "bot", "--help"]
