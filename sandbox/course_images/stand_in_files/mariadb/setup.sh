# The package's postinst made a data directory; the official image starts empty and initialises
# it on first run from the MARIADB_* variables.
rm -rf /var/lib/mysql
mkdir -p /var/lib/mysql /run/mysqld
chown mysql:mysql /var/lib/mysql /run/mysqld
chmod 1777 /run/mysqld
rm -f /docker-entrypoint-initdb.d/.keep
