# Debian's WordPress reads /etc/wordpress/config-<host>.php and links to system libraries with
# relative links; the official image keeps a self-contained copy in /usr/src/wordpress that the
# entrypoint copies into the /var/www/html volume. Made here with the links resolved.
rm -f /usr/share/wordpress/.htaccess /usr/share/wordpress/wp-config.php
mkdir -p /usr/src/wordpress
cp -rL /usr/share/wordpress/. /usr/src/wordpress/
rm -rf /usr/share/wordpress
ln -s /usr/src/wordpress /usr/share/wordpress
chown -R www-data:www-data /usr/src/wordpress
rm -rf /var/www/html && mkdir -p /var/www/html && chown www-data:www-data /var/www/html
chmod 755 /usr/local/bin/docker-entrypoint.sh /usr/local/bin/apache2-foreground
# Pretty permalinks use .htaccess rewrites, as in the official image.
a2enmod -q rewrite expires
sed -i '/<Directory \/var\/www\/>/,/<\/Directory>/ s/AllowOverride None/AllowOverride All/' /etc/apache2/apache2.conf
# Logs to the container's output (docker logs).
ln -sfT /dev/stderr /var/log/apache2/error.log
ln -sfT /dev/stdout /var/log/apache2/access.log
ln -sfT /dev/stdout /var/log/apache2/other_vhosts_access.log
test -f /usr/src/wordpress/wp-includes/version.php
php -m | grep -qi mysqli
