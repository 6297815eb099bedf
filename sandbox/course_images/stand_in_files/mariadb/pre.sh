# The official image's user and uid (999), made before the package so its files get them.
groupadd --system --gid 999 mysql
useradd --system --gid mysql --uid 999 --home-dir /var/lib/mysql --shell /bin/false mysql
