# Adminer in source form links its styles and scripts relatively; the same links beside index.php.
ln -s /usr/share/adminer/adminer/static /var/www/html/static
[ -d /usr/share/adminer/externals ] && ln -s /usr/share/adminer/externals /var/www/externals
test -f /usr/share/adminer/adminer/index.php
php -m | grep -qi mysqli
php -m | grep -qi pgsql
