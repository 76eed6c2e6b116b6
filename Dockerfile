# One image for the three apps (they share the workspace); `command` in docker-compose.yml picks the app.
# The worker, dashboard and CLI run their TypeScript source through tsx (a runtime dependency of
# apps/cli); the ingress, the process Meta talks to, is bundled by esbuild at image build
# (apps/ingress/build.mjs): without tsx's loader it takes ~40 MB less memory and less CPU per webhook.
# Stage 1 installs production dependencies only; stage 2 copies what runs, owned by root and
# read-only to the app, which runs as the unprivileged `node` user (uid 1000).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/ingress/package.json apps/ingress/
COPY apps/worker/package.json apps/worker/
COPY apps/dashboard/package.json apps/dashboard/
COPY apps/cli/package.json apps/cli/
COPY packages/tenant-core/package.json packages/tenant-core/
COPY packages/whatsapp/package.json packages/whatsapp/
COPY packages/testkit/package.json packages/testkit/
# the postinstall step patches the Postgres driver (see scripts/patch-postgres.mjs)
COPY scripts/patch-postgres.mjs scripts/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/apps ./apps
COPY --from=deps /app/packages ./packages
COPY package.json tsconfig.base.json ./
COPY migrations ./migrations
COPY apps ./apps
COPY packages ./packages
RUN node apps/ingress/build.mjs
USER node
EXPOSE 3000 3001 3002
# node directly (not npx): one process that receives SIGTERM and drains (see each app's main.ts)
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=128", "apps/ingress/dist/main.mjs"]
