FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY jobs ./jobs
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
COPY config ./config
ENV NODE_ENV=production
# The worker's heap, as `npm start` sets it (README, "Memory"): a small young generation and a bounded old one keep
# a worker near 130 MB instead of letting V8 grow it past 200 MB in bursts. Override with -e NODE_OPTIONS=...
ENV NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=384"
# glibc gives each thread that allocates its own malloc arena (up to 8 per core); V8's GC and compiler threads
# then keep ~10 MB of freed memory spread over them. Two arenas, as `npm start` sets: same CPU, ~10 MB less RSS.
ENV MALLOC_ARENA_MAX=2
# V8's optimising compiler (a background thread) works in 32 KB zone segments, which glibc keeps in its heap once
# freed, fragmented: served by mmap instead (32 KB and up), and the heap's top trimmed past 64 KB, a busy worker peaks
# ~7 MB lower, for up to ~10 % more CPU while it compiles (README, "Memory"). Drop both to trade the memory back.
ENV MALLOC_MMAP_THRESHOLD_=32768
ENV MALLOC_TRIM_THRESHOLD_=65536
# The API binds to loopback by default; inside a container it must listen on all interfaces (token required then).
CMD ["node", "bin/chokepoint.js", "worker"]
