# The official image's user and uid (101), made before the package so its files get them.
groupadd --system --gid 101 nginx
useradd --system --gid nginx --uid 101 --no-create-home --home-dir /nonexistent --shell /bin/false nginx
