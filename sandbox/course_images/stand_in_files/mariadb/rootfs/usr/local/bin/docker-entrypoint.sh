#!/bin/bash
# The part of the official mariadb image's entrypoint a beginner relies on: first-run
# initialisation from MARIADB_* (or MYSQL_*) variables and /docker-entrypoint-initdb.d, then the
# server in the foreground as the mysql user.
set -eo pipefail

log() { echo "$(date -u '+%F %T') 0 [Note] [Entrypoint]: $*"; }
die() { echo "$(date -u '+%F %T') 0 [ERROR] [Entrypoint]: $*" >&2; exit 1; }

# MARIADB_X wins over MYSQL_X; both may come from a file (X_FILE), as in the official image.
file_env() {
	local var="$1" mysql="${1/MARIADB_/MYSQL_}" def="${2:-}" val=""
	for name in "$var" "$mysql"; do
		local file="${name}_FILE"
		if [ -n "${!name:-}" ]; then val="${!name}"; break; fi
		if [ -n "${!file:-}" ]; then val="$(< "${!file}")"; break; fi
	done
	export "$var"="${val:-$def}"
	unset "$mysql" "${var}_FILE" "${mysql}_FILE"
}

if [ "${1:0:1}" = '-' ]; then
	set -- mariadbd "$@"
fi

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

if [ "$1" = 'mariadbd' ] || [ "$1" = 'mysqld' ]; then
	if [ "$(id -u)" = '0' ]; then
		mkdir -p "$DATADIR" /run/mysqld
		find "$DATADIR" /run/mysqld \! -user mysql -exec chown mysql: '{}' +
		exec setpriv --reuid=mysql --regid=mysql --init-groups "$BASH_SOURCE" "$@"
	fi

	if [ ! -d "$DATADIR/mysql" ]; then
		for v in ROOT_PASSWORD ALLOW_EMPTY_ROOT_PASSWORD RANDOM_ROOT_PASSWORD ROOT_HOST DATABASE USER PASSWORD; do
			file_env "MARIADB_$v"
		done
		[ -n "$MARIADB_ROOT_HOST" ] || MARIADB_ROOT_HOST='%'
		if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] \
			&& [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
			die "Database is uninitialized and password option is not specified
	You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD"
		fi
		log "Initializing database files"
		mariadb-install-db --datadir="$DATADIR" --skip-test-db --auth-root-authentication-method=normal \
			--skip-name-resolve --default-time-zone=SYSTEM --old-mode='UTF8_IS_UTF8MB3' > /dev/null
		log "Database files initialized"
		log "Starting temporary server"
		mariadbd --skip-networking --socket="$SOCKET" --datadir="$DATADIR" --skip-log-bin &
		pid=$!
		for _ in $(seq 60); do
			mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1 && break
			kill -0 "$pid" 2>/dev/null || die "Unable to start server."
			sleep 1
		done
		log "Temporary server started."
		if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
			MARIADB_ROOT_PASSWORD="$(tr -dc 'A-Za-z0-9' < /dev/urandom | head -c 32)"
			log "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
		fi
		sql_escape() { printf '%s' "$1" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g"; }
		root_pw="$(sql_escape "$MARIADB_ROOT_PASSWORD")"
		{
			echo "SET @@SESSION.SQL_LOG_BIN=0;"
			echo "DELETE FROM mysql.global_priv WHERE user NOT IN ('mysql.sys', 'mariadb.sys', 'root') OR host NOT IN ('localhost');"
			echo "SET PASSWORD FOR 'root'@'localhost'=PASSWORD('$root_pw');"
			if [ "$MARIADB_ROOT_HOST" != 'localhost' ]; then
				echo "CREATE USER 'root'@'$MARIADB_ROOT_HOST' IDENTIFIED BY '$root_pw';"
				echo "GRANT ALL ON *.* TO 'root'@'$MARIADB_ROOT_HOST' WITH GRANT OPTION;"
			fi
			if [ -n "$MARIADB_DATABASE" ]; then
				log "Creating database ${MARIADB_DATABASE}" >&2
				echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
			fi
			if [ -n "$MARIADB_USER" ] && [ -n "$MARIADB_PASSWORD" ]; then
				log "Creating user ${MARIADB_USER}" >&2
				echo "CREATE USER '$(sql_escape "$MARIADB_USER")'@'%' IDENTIFIED BY '$(sql_escape "$MARIADB_PASSWORD")';"
				if [ -n "$MARIADB_DATABASE" ]; then
					log "Giving user ${MARIADB_USER} access to schema ${MARIADB_DATABASE}" >&2
					echo "GRANT ALL ON \`${MARIADB_DATABASE//_/\\_}\`.* TO '$(sql_escape "$MARIADB_USER")'@'%';"
				fi
			fi
			echo "FLUSH PRIVILEGES;"
		} | mariadb --protocol=socket --socket="$SOCKET" -uroot --binary-mode
		client=(mariadb --protocol=socket --socket="$SOCKET" -uroot -p"$MARIADB_ROOT_PASSWORD")
		[ -n "$MARIADB_DATABASE" ] && client+=("$MARIADB_DATABASE")
		for f in /docker-entrypoint-initdb.d/*; do
			case "$f" in
				*.sh) log "$0: running $f"; . "$f" ;;
				*.sql) log "$0: running $f"; "${client[@]}" < "$f" ;;
				*.sql.gz) log "$0: running $f"; gunzip -c "$f" | "${client[@]}" ;;
				*) [ -e "$f" ] && log "$0: ignoring $f" ;;
			esac
		done
		log "Stopping temporary server"
		kill "$pid"
		wait "$pid" || true
		log "Temporary server stopped"
		echo
		log "MariaDB init process done. Ready for start up."
		echo
	fi
fi

exec "$@"
