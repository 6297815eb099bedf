#!/bin/bash
# The part of the official postgres image's entrypoint a beginner relies on: on first run an
# initdb from POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB (+ /docker-entrypoint-initdb.d),
# then the server in the foreground as the postgres user.
set -Eeo pipefail

file_env() {
	local var="$1" file="${1}_FILE" def="${2:-}" val="${2:-}"
	if [ -n "${!var:-}" ]; then val="${!var}"; elif [ -n "${!file:-}" ]; then val="$(< "${!file}")"; fi
	export "$var"="$val"
	unset "$file"
}

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" = 'postgres' ]; then
	PGDATA="${PGDATA:-/var/lib/postgresql/data}"
	if [ "$(id -u)" = '0' ]; then
		mkdir -p "$PGDATA" /var/run/postgresql
		find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
		chmod 00700 "$PGDATA" || :
		chmod 03775 /var/run/postgresql || :
		exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
	fi

	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		file_env POSTGRES_PASSWORD
		file_env POSTGRES_USER postgres
		file_env POSTGRES_DB "$POSTGRES_USER"
		file_env POSTGRES_INITDB_ARGS
		: "${POSTGRES_HOST_AUTH_METHOD:=}"
		if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
			cat >&2 <<-'EOE'
				Error: Database is uninitialized and superuser password is not specified.
				       You must specify POSTGRES_PASSWORD to a non-empty value for the
				       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
			EOE
			exit 1
		fi
		mkdir -p "$PGDATA" && chmod 00700 "$PGDATA"
		eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") -D "$PGDATA" '"$POSTGRES_INITDB_ARGS"
		auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
		printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
		sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$PGDATA/postgresql.conf"
		export PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD"
		pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
		if [ "$POSTGRES_DB" != 'postgres' ]; then
			psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db" ;'
			echo
		fi
		for f in /docker-entrypoint-initdb.d/*; do
			case "$f" in
				*.sh) echo "$0: running $f"; . "$f" ;;
				*.sql) echo "$0: running $f"; psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname "$POSTGRES_DB" -f "$f"; echo ;;
				*.sql.gz) echo "$0: running $f"; gunzip -c "$f" | psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname "$POSTGRES_DB"; echo ;;
				*) [ -e "$f" ] && echo "$0: ignoring $f" ;;
			esac
		done
		pg_ctl -D "$PGDATA" -m fast -w stop
		unset PGPASSWORD
		echo
		echo 'PostgreSQL init process complete; ready for start up.'
		echo
	fi
fi

exec "$@"
