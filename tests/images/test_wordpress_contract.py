"""wordpress: configured by WORDPRESS_DB_* variables, it installs against MariaDB through its web
installer, serves on port 80 and keeps its files in the /var/www/html volume."""

from __future__ import annotations

import pytest

from .databases import MARIADB

pytestmark = pytest.mark.docker

# WordPress's database is the one the MariaDB contract creates, reached as host `db`.
WP = {
    "WORDPRESS_DB_HOST": "db",
    "WORDPRESS_DB_USER": MARIADB.user,
    "WORDPRESS_DB_PASSWORD": MARIADB.password,
    "WORDPRESS_DB_NAME": MARIADB.database,
}
INSTALL = (
    "weblog_title=Mi+blog+de+Muelle&user_name=admin&admin_password=Clave-larga-2024"
    "&admin_password2=Clave-larga-2024&pw_weak=1&admin_email=admin%40example.com"
    "&blog_public=0&Submit=Install+WordPress&language="
)


def test_it_installs_against_mariadb_and_serves_the_new_site(lab, image_of) -> None:  # noqa: ANN001
    lab.start(image_of("mariadb"), "db", environment=MARIADB.env)
    site = lab.volume("site")
    lab.start(image_of("wordpress"), "wp", environment=WP, volumes={site: "/var/www/html"})
    wget = image_of("busybox")

    def get(path: str) -> tuple[int, str]:
        return lab.run(wget, ["wget", "-qO-", f"http://wp{path}"])

    # Before installing, WordPress sends every page to its installer.
    page = lab.until(lambda: get("/wp-admin/install.php"), "GET the installer")
    assert "wp-admin/install.php?step=1" in page or 'name="weblog_title"' in page

    code, out = lab.run(
        wget, ["wget", "-qO-", "--post-data", INSTALL, "http://wp/wp-admin/install.php?step=2"]
    )
    assert code == 0, out
    assert "Success!" in out or "¡Lo lograste!" in out

    code, home = get("/")
    assert code == 0, home
    assert "Mi blog de Muelle" in home

    # The configuration and the files are in the volume, as the official image puts them.
    code, out = lab.run(
        wget,
        ["sh", "-c", "ls /site && grep -c DB_HOST /site/wp-config.php"],
        volumes={site: "/site"},
    )
    assert code == 0, out
    assert "wp-includes" in out and "wp-config.php" in out
