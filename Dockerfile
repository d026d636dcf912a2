# The whole tool in one image. It runs the same scripts/setup as `npm test` and `npm run demo`,
# so the suite that runs on every CI build covers this image's set-up too.
FROM node:20-bookworm

# Python 3.11 for the TVM bridge; a C compiler and tar, which TVM needs to export built kernels.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv gcc g++ tar \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/colt
COPY . .
RUN bash scripts/setup

ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
