# The official image's user and uid (999), made before the package so its files get them.
groupadd --system --gid 999 postgres
useradd --system --gid postgres --uid 999 --home-dir /var/lib/postgresql --shell /bin/bash postgres
# As in the official image: no cluster made at install time, the data directory starts empty.
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/muelle.conf
