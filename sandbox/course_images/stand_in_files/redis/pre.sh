# The official image's user and uid (999), made before the package so its files get them.
groupadd --system --gid 999 redis
useradd --system --gid redis --uid 999 --home-dir /var/lib/redis --shell /usr/sbin/nologin redis
