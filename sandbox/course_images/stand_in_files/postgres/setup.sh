rm -rf /etc/postgresql/15 /var/lib/postgresql/15 /etc/postgresql-common/createcluster.d/muelle.conf /docker-entrypoint-initdb.d/.keep
mkdir -p /var/lib/postgresql/data /var/run/postgresql
chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
chmod 1777 /var/lib/postgresql/data /var/run/postgresql
test -x /usr/lib/postgresql/15/bin/postgres
