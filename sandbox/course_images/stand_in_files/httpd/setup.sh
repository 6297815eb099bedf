# The official image runs its children as "daemon" (uid 1); Debian's default is www-data.
sed -i -e 's/^export APACHE_RUN_USER=.*/export APACHE_RUN_USER=daemon/' \
       -e 's/^export APACHE_RUN_GROUP=.*/export APACHE_RUN_GROUP=daemon/' /etc/apache2/envvars
# The default site would serve /var/www/html on port 80 before ours.
a2dissite -q 000-default
a2enconf -q muelle-httpd
# The official image's config folder name, for `docker cp` and bind mounts of single files.
ln -s /etc/apache2 /usr/local/apache2/conf
ln -s /var/log/apache2 /usr/local/apache2/logs
ln -s /usr/sbin/apache2 /usr/local/bin/httpd
a2disconf -q other-vhosts-access-log
