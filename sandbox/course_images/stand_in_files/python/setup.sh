# The official image's Python is the only one in it, so `pip install` may change it; Debian's
# marks its Python as managed by apt (PEP 668) and pip would refuse. Removed, as in the official
# image, where a container is its own environment.
rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED
# The official image has these names in /usr/local/bin.
ln -s /usr/bin/python3 /usr/local/bin/python
ln -s /usr/bin/pip3 /usr/local/bin/pip
python --version
pip --version
