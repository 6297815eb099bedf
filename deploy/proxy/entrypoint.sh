#!/bin/sh
# Fills the nginx template with the domain (and refuses to start without one), writes the list
# of web processes, then runs nginx.
#
# The web processes are the addresses MUELLE_WEB_HOST resolves to (Docker's DNS gives one per
# container of the `web` service). nginx reads them only when it loads its configuration, so a
# small loop looks again every MUELLE_WEB_RECHECK seconds and reloads nginx when the list
# changed: a process that stopped leaves it, one that (re)started joins it, also with a new
# address. A reload keeps open connections (terminals) on the old workers until they close.
set -eu
: "${MUELLE_DOMAIN:?MUELLE_DOMAIN is not set}"
case "$MUELLE_DOMAIN" in
  *[!a-z0-9.-]*) echo "MUELLE_DOMAIN must be a lower-case host name" >&2; exit 1 ;;
esac
WEB_HOST="${MUELLE_WEB_HOST:-web}"
WEB_PORT="${MUELLE_WEB_PORT:-8000}"
RECHECK="${MUELLE_WEB_RECHECK:-2}"
UPSTREAM=/etc/nginx/muelle-web.conf

sed -e "s/@DOMAIN@/$MUELLE_DOMAIN/g" -e "s/@DOMAIN_RE@/$(printf '%s' "$MUELLE_DOMAIN" | sed 's/\./\\\\./g')/g" \
  /etc/nginx/muelle.conf.template >/etc/nginx/conf.d/muelle.conf

web_addresses() {
  getent ahostsv4 "$WEB_HOST" 2>/dev/null | awk '{print $1}' | sort -u | tr '\n' ' '
}

# write_upstream "ADDR ADDR ...": the web processes nginx spreads students over. Each student
# (their session cookie; on the preview origin, the preview's host name) is hashed onto one of
# them, consistently: when one goes, only its students move. max_fails=0: one failed request
# (a busy moment) must not send a student's next requests to a process that does not hold
# their terminal; a stopped process refuses at once, and one that is gone leaves the list.
write_upstream() {
  {
    echo "upstream muelle_web {"
    echo "    hash \$route_key consistent;"
    if [ -z "$1" ]; then
      echo "    server 127.0.0.1:1;  # no web process yet: 502 until one appears"
    fi
    for address in $1; do
      echo "    server $address:$WEB_PORT max_fails=0;"
    done
    echo "    keepalive 16;"
    echo "}"
  } >"$UPSTREAM.new"
  mv "$UPSTREAM.new" "$UPSTREAM"
}

current="$(web_addresses)"
write_upstream "$current"
echo "muelle-proxy: web processes: ${current:-none yet}" >&2
nginx -t -q

follow_web_processes() {
  while sleep "$RECHECK"; do
    seen="$(web_addresses)"
    # Nothing resolves while every process is down (or restarting): keep the last list.
    if [ -n "$seen" ] && [ "$seen" != "$current" ]; then
      write_upstream "$seen"
      if nginx -t -q && nginx -s reload; then
        echo "muelle-proxy: web processes now: $seen (were: ${current:-none})" >&2
        current="$seen"
      fi
    fi
  done
}
follow_web_processes &
exec nginx -g 'daemon off;'
