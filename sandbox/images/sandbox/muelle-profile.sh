# Muelle: greeting for login shells (each new terminal). Printed with builtins: a `cat` here
# was a process started for every terminal a class opens.
if [ -n "${BASH_VERSION:-}" ] && [ -r /etc/motd ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s\n' "$line"
  done < /etc/motd
fi
cd "$HOME" 2>/dev/null || true
