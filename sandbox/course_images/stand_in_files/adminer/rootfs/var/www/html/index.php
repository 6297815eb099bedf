<?php
// Muelle's adminer stand-in: Debian's Adminer (source form) served by PHP's built-in server,
// like the official image's `php -S ... -t /var/www/html`.
chdir('/usr/share/adminer/adminer');
require '/usr/share/adminer/adminer/index.php';
