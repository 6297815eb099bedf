# Debian's site (root /var/www/html) gives way to the official image's conf.d/default.conf.
rm -f /etc/nginx/sites-enabled/default
sed -i 's/^user www-data;/user nginx;/' /etc/nginx/nginx.conf
# Logs go to the container's output, as in the official image (docker logs).
ln -sf /dev/stdout /var/log/nginx/access.log
ln -sf /dev/stderr /var/log/nginx/error.log
test -f /usr/share/nginx/html/index.html
chown -R nginx:nginx /var/lib/nginx
