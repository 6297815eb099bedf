#!/usr/bin/env bash
# A real 3-node Docker Swarm on this one machine, for tests and benches (issue 16, point 4):
# three dockerd, each in its own network namespace, joined by a bridge, forming a Swarm.
# Never touches the machine's own engine. Follows what was measured in NOTES-swarm:
#   - dockerd is started with `nsenter --net=...` (`ip netns exec` remounts /sys, and dockerd
#     then dies with «Devices cgroup isn't mounted»);
#   - each node has its own data root, exec root, pid file, socket and cgroup parent;
#   - the host's FORWARD policy is DROP and bridged traffic goes through it: one ACCEPT rule for
#     traffic within the bridge is inserted, and removed again by `down`;
#   - a node's capacity is a generic resource (`sandbox=N`) that services reserve;
#   - each engine listens on its address with mutual TLS only (`--tlsverify`, port 2376): a
#     throwaway CA made here signs one server certificate per node (SAN = its address) and one
#     client certificate for Muelle; a client without a certificate of that CA is refused.
#
#   deploy/swarm/testbed.sh up      # prints NODE<i>_SOCK=..., NODE<i>_ADDR=... lines, and
#                                   # TLS_CA=, TLS_CERT=, TLS_KEY= (Muelle's client material)
#   deploy/swarm/testbed.sh down    # removes everything: services, swarm, engines, mounts,
#                                   # namespaces, links, the FORWARD rule, the data
#
# MUELLE_SWARM_DIR (default /tmp/muelle-swarm), MUELLE_SWARM_TAG (names: a few letters/digits),
# MUELLE_SWARM_NET (the third octet of 10.99.X.0/24), MUELLE_SWARM_SLOTS (sandboxes per node).
set -euo pipefail

DIR="${MUELLE_SWARM_DIR:-/tmp/muelle-swarm}"
TAG="${MUELLE_SWARM_TAG:-t0}"
NET="${MUELLE_SWARM_NET:-99}"
SLOTS="${MUELLE_SWARM_SLOTS:-1}"
NODES=3
BR="msw${TAG}"
PREFIX="10.99.$NET"
RULE=(FORWARD -i "$BR" -o "$BR" -j ACCEPT -m comment --comment "muelle-swarm-$TAG")

ns() { echo "msw${TAG}n$1"; }
addr() { echo "$PREFIX.$((10 + $1))"; }
sock() { echo "unix://$DIR/node$1/docker.sock"; }
dk() { local n="$1"; shift; docker -H "$(sock "$n")" "$@"; }

# A throwaway CA, a server certificate per node and a client certificate, all in $DIR/tls
# (EC keys: quick to make). Go's TLS wants the CA marked as one, and each node's address in
# its certificate's SAN: Muelle reaches the engines by address.
certs() {
  local t="$DIR/tls" n
  mkdir -p "$t"
  chmod 0700 "$t"
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2 \
    -subj "/CN=muelle-swarm-$TAG testbed CA" -keyout "$t/ca-key.pem" -out "$t/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  sign() { # name, extensions
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
      -subj "/CN=$1" -keyout "$t/$1-key.pem" -out "$t/$1.csr" 2>/dev/null
    openssl x509 -req -in "$t/$1.csr" -CA "$t/ca.pem" -CAkey "$t/ca-key.pem" -CAcreateserial \
      -days 2 -out "$t/$1-cert.pem" -extfile <(printf '%s\n' "$2") 2>/dev/null
    rm -f "$t/$1.csr"
  }
  for n in $(seq 1 $NODES); do
    sign "node$n" "subjectAltName=IP:$(addr "$n")
extendedKeyUsage=serverAuth"
  done
  sign client "extendedKeyUsage=clientAuth"
  chmod 0600 "$t"/*-key.pem
}

up() {
  mkdir -p "$DIR"
  chmod 0711 "$DIR"
  # Two beds on one subnet make each other's nodes unreachable (CI saw one: parallel test
  # workers pick the subnet at random). Checked and taken under one lock; exit 3 says "taken,
  # pick another" before anything was made.
  exec 9>/tmp/muelle-swarm-subnets.lock
  flock 9
  if ip -o -4 addr show | grep -q " $PREFIX\."; then
    echo "the subnet $PREFIX.0/24 is in use" >&2
    exit 3
  fi
  ip link add "$BR" type bridge
  ip addr add "$PREFIX.1/24" dev "$BR"
  flock -u 9
  exec 9>&-
  ip link set "$BR" up
  iptables -I "${RULE[@]}"
  certs
  for n in $(seq 1 $NODES); do
    ip netns add "$(ns "$n")"
    ip link add "${BR}v$n" type veth peer name eth0 netns "$(ns "$n")"
    ip link set "${BR}v$n" master "$BR" up
    ip -n "$(ns "$n")" addr add "$(addr "$n")/24" dev eth0
    ip -n "$(ns "$n")" link set eth0 up
    ip -n "$(ns "$n")" link set lo up
    ip -n "$(ns "$n")" route add default via "$PREFIX.1"
    mkdir -p "$DIR/node$n/data" "$DIR/node$n/exec"
    setsid nsenter --net="/run/netns/$(ns "$n")" dockerd \
      --host "$(sock "$n")" \
      --host "tcp://$(addr "$n"):2376" \
      --tlsverify \
      --tlscacert "$DIR/tls/ca.pem" \
      --tlscert "$DIR/tls/node$n-cert.pem" \
      --tlskey "$DIR/tls/node$n-key.pem" \
      --data-root "$DIR/node$n/data" \
      --exec-root "$DIR/node$n/exec" \
      --pidfile "$DIR/node$n/docker.pid" \
      --cgroup-parent "muelle-swarm-$TAG-node$n" \
      --containerd-namespace "muelle-swarm-$TAG-$n" \
      --containerd-plugins-namespace "muelle-swarm-$TAG-$n-plugins" \
      --node-generic-resource "sandbox=$SLOTS" \
      >"$DIR/node$n/dockerd.log" 2>&1 </dev/null &
  done
  for n in $(seq 1 $NODES); do
    for _ in $(seq 1 150); do dk "$n" version >/dev/null 2>&1 && break; sleep 0.2; done
    dk "$n" version >/dev/null || { tail -5 "$DIR/node$n/dockerd.log" >&2; return 1; }
  done
  dk 1 swarm init --advertise-addr "$(addr 1)" --listen-addr "$(addr 1):2377" >/dev/null
  local token
  token="$(dk 1 swarm join-token -q worker)"
  for n in $(seq 2 $NODES); do
    dk "$n" swarm join --token "$token" --advertise-addr "$(addr "$n")" \
      --listen-addr "$(addr "$n"):2377" "$(addr 1):2377" >/dev/null
  done
  for n in $(seq 1 $NODES); do
    printf 'NODE%s_SOCK=%s\nNODE%s_ADDR=%s\n' "$n" "$(sock "$n")" "$n" "$(addr "$n")"
  done
  printf 'TLS_CA=%s\nTLS_CERT=%s\nTLS_KEY=%s\n' "$DIR/tls/ca.pem" "$DIR/tls/client-cert.pem" \
    "$DIR/tls/client-key.pem"
}

down() {
  local n p
  # An engine a test stopped (SIGSTOP) and could not resume, its run killed meanwhile, would
  # hang every call below and ignore SIGTERM.
  for n in $(seq 1 $NODES); do
    if [ -s "$DIR/node$n/docker.pid" ]; then
      kill -CONT "$(cat "$DIR/node$n/docker.pid")" 2>/dev/null || true
    fi
  done
  # The nodes at once (each step is a CLI call that waits for its engine).
  for n in $(seq 1 $NODES); do
    (
      if dk "$n" version >/dev/null 2>&1; then
        if [ "$n" = 1 ]; then
          dk 1 service ls -q 2>/dev/null | xargs -r docker -H "$(sock 1)" service rm >/dev/null 2>&1 || true
        fi
        dk "$n" ps -aq | xargs -r docker -H "$(sock "$n")" rm -f -v >/dev/null 2>&1 || true
        dk "$n" swarm leave --force >/dev/null 2>&1 || true
      fi
    ) &
  done
  wait
  # Every engine is asked to stop before waiting for any: each takes some seconds to exit.
  for n in $(seq 1 $NODES); do
    if [ -s "$DIR/node$n/docker.pid" ]; then
      kill -TERM "$(cat "$DIR/node$n/docker.pid")" 2>/dev/null || true
    fi
  done
  for n in $(seq 1 $NODES); do
    if [ -s "$DIR/node$n/docker.pid" ]; then
      p="$(cat "$DIR/node$n/docker.pid")"
      for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$p" 2>/dev/null || true
    fi
    # What outlived its dockerd (shims and their containers, a managed containerd), by pid.
    for p in $(pgrep -f -- "-namespace muelle-swarm-$TAG-$n " || true) \
      $(pgrep -f -- "containerd --config $DIR/node$n/exec/" || true); do
      pkill -KILL -P "$p" 2>/dev/null || true
      kill -KILL "$p" 2>/dev/null || true
    done
  done
  if [ -d "$DIR" ]; then
    awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
  fi
  for n in $(seq 1 $NODES); do
    ip netns del "$(ns "$n")" 2>/dev/null || true
    ip link del "${BR}v$n" 2>/dev/null || true
  done
  ip link del "$BR" 2>/dev/null || true
  while iptables -C "${RULE[@]}" 2>/dev/null; do iptables -D "${RULE[@]}"; done
  # The nodes' cgroup parents, once their last processes have exited (rmdir refuses busy ones).
  for _ in $(seq 1 40); do
    [ -z "$(find /sys/fs/cgroup/ -mindepth 1 -maxdepth 2 -type d -name "muelle-swarm-$TAG-node*" 2>/dev/null)" ] && break
    find /sys/fs/cgroup/ -mindepth 1 -maxdepth 2 -type d -name "muelle-swarm-$TAG-node*" 2>/dev/null \
      | while read -r c; do find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
    sleep 0.25
  done
  rm -rf "$DIR"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
