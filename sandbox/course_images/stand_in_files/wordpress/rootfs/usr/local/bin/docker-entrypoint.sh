#!/bin/bash
# The part of the official wordpress image's entrypoint a beginner relies on: on first start the
# WordPress files are copied into /var/www/html (a volume) and wp-config.php is made from the
# WORDPRESS_* variables; then Apache runs in the foreground.
set -Eeuo pipefail

case "$1" in apache2*|php-fpm) start=1 ;; *) start= ;; esac
if [ -n "$start" ]; then
	user=www-data group=www-data
	if [ "$(id -u)" != '0' ]; then user="$(id -u)" group="$(id -g)"; fi
	if [ ! -e index.php ] && [ ! -e wp-includes/version.php ]; then
		echo >&2 "WordPress not found in $PWD - copying now..."
		owner=()
		[ "$(id -u)" = '0' ] && owner=(--owner "$user" --group "$group")
		tar --create --file - --directory /usr/src/wordpress "${owner[@]}" . | tar --extract --file -
		echo >&2 "Complete! WordPress has been successfully copied to $PWD"
	fi
	if [ ! -s wp-config.php ] && env | grep -q '^WORDPRESS_'; then
		echo >&2 "No 'wp-config.php' found in $PWD, but 'WORDPRESS_...' variables supplied; copying 'wp-config-docker.php'"
		# Fresh random keys for this site unless WORDPRESS_*_KEY/SALT say otherwise.
		awk '/put your unique phrase here/ {
			cmd = "head -c1m /dev/urandom | sha1sum | cut -d\\  -f1"; cmd | getline str; close(cmd)
			gsub("put your unique phrase here", str)
		} { print }' /usr/src/wordpress-config-docker.php > wp-config.php
		[ "$(id -u)" = '0' ] && chown "$user:$group" wp-config.php
	fi
fi

exec "$@"
