# The official image runs PHP as the unprivileged user "adminer".
groupadd --system adminer
useradd --system --gid adminer --home-dir /var/www/html --shell /bin/false adminer
