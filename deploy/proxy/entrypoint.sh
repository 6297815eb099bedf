#!/bin/sh
# Fills the nginx template with the domain (and refuses to start without one), then runs nginx.
set -eu
: "${MUELLE_DOMAIN:?MUELLE_DOMAIN is not set}"
case "$MUELLE_DOMAIN" in
  *[!a-z0-9.-]*) echo "MUELLE_DOMAIN must be a lower-case host name" >&2; exit 1 ;;
esac
sed -e "s/@DOMAIN@/$MUELLE_DOMAIN/g" -e "s/@DOMAIN_RE@/$(printf '%s' "$MUELLE_DOMAIN" | sed 's/\./\\\\./g')/g" \
  /etc/nginx/muelle.conf.template >/etc/nginx/conf.d/muelle.conf
nginx -t -q
exec nginx -g 'daemon off;'
