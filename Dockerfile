# syntax=docker/dockerfile:1
# Concord's image: a build stage compiles dist/ with every dependency, the runtime stage holds
# dist/, the bin and the production dependencies only, and runs as the unprivileged `node` user.
# Not built on the machine this was written on (no Docker engine there): see docs/DEPLOY.md.
#   docker build -t concord .
#   docker run --rm concord --version
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary matches the platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY connectors ./connectors
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# No NODE_OPTIONS heap cap here: `concord plan` needs more than a worker (docs/DEPLOY.md, "Memory").
ENV NODE_ENV=production \
  PORT=8080 \
  CONCORD_CONFIG=/etc/concord/concord.yaml
WORKDIR /app
# Code and dependencies belong to root and are read-only for the user the hub runs as;
# data/ is the only folder it writes (a SQLite file, if the config uses one).
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config/examples ./config/examples
COPY LICENSE ./LICENSE
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
# `concord start` stops taking work on SIGTERM and waits for what is in flight (docs/DEPLOY.md).
STOPSIGNAL SIGTERM
# Liveness of the HTTP server (the api role); worker-only containers turn it off (deploy/compose.yaml).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/concord.js"]
CMD ["start", "--role", "all"]
