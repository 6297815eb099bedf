# Muelle: greeting for login shells (each new terminal).
if [ -n "${BASH_VERSION:-}" ] && [ -r /etc/motd ]; then
  cat /etc/motd
fi
cd "$HOME" 2>/dev/null || true
