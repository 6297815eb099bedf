# The official image runs PHP as the unprivileged user "adminer".
getent group adminer >/dev/null || groupadd --system adminer
id adminer >/dev/null 2>&1 || useradd --system --gid adminer --home-dir /var/www/html --shell /bin/false adminer
# Adminer in source form links its styles and scripts relatively; the same links beside index.php.
# The folder is made here: this runs before any package could have made it.
mkdir -p /var/www/html
ln -sfn /usr/share/adminer/adminer/static /var/www/html/static
ln -sfn /usr/share/adminer/externals /var/www/externals
