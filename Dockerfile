FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY jobs ./jobs
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
COPY config ./config
ENV NODE_ENV=production
# The API binds to loopback by default; inside a container it must listen on all interfaces (token required then).
CMD ["node", "bin/chokepoint.js", "worker"]
