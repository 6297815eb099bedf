#!/bin/sh
# Like the official redis image's entrypoint: options alone mean "redis-server with these
# options"; as root it hands /data to the redis user and drops to it.
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# Without a config file Redis would only answer on loopback (protected mode): the official
# image turns that off so other containers on the network can connect.
if [ "$1" = 'redis-server' ]; then
	case " $* " in
		*" --protected-mode "*|*.conf*) ;;
		*) shift; set -- redis-server --protected-mode no "$@" ;;
	esac
fi

exec "$@"
