# Debian's Python with venv, the one step of the web image that needs Debian's package mirror
# (a package registry, as for the course images). Cached by deploy/build.sh under a tag made of
# this recipe's hash.
ARG BASE=muelle/base:bookworm
FROM ${BASE}
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc /usr/share/man
