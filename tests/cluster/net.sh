# net.sh - a small network of Linux network namespaces for real seedmesh
# nodes on one machine (sourced by tests/cluster/*.sh and bench/cluster.sh;
# design and reasons in docs/cluster.md).
#
#   smn-<id>-n0 .. smn-<id>-nK   one namespace per node, eth0 = 10.77.0.(10+i)/24
#   smn-<id>-hub                 a bridge br0 joining the hub ends h0..hK
#
# No address outside 10.77.0.0/24 is configured or routed: the namespaces have
# no default route and no link to the host's network.
# Shaping without netem (this kernel has none):
#   rate   htb on the node's eth0 (upload) and on its hub end hI (download)
#   delay  sm-netdelay: a node's own outgoing packets are routed once through a
#          tun device whose reader holds each packet DELAY ms (one way, on
#          each sender, like netem on every interface)
#   loss   iptables "-m statistic --mode random" DROP on each node's INPUT
#   cut    iptables DROP in chain SMN-CUT between two sets of addresses
# TCP uses BBR in every namespace (cubic collapses under random loss).
#
# Use: NET_ID=..., NET_DELAY_BIN=path/to/sm-netdelay, then net_up K,
# net_shape I RATE DELAY_MS LOSS_PERCENT, net_exec I cmd..., net_down.

NET_ID=${NET_ID:-$(($$ % 100000))}
NET_HUB=smn-$NET_ID-hub
NET_NODES=0
NET_DELAY_PIDS=()

net_ns() { echo "smn-$NET_ID-n$1"; }
net_addr() { echo "10.77.0.$((10 + $1))"; }
net_exec() { # I cmd...: runs cmd inside node I's namespace
  local i=$1
  shift
  ip netns exec "$(net_ns "$i")" "$@"
}

# net_available: 0 when namespaces, veth, bridges and htb work here (root).
net_available() {
  local probe=smn-$NET_ID-probe ok=1
  ip netns add "$probe" 2>/dev/null || return 1
  ip -n "$probe" link add smn-pb type bridge 2>/dev/null || ok=0
  ip netns exec "$probe" tc qdisc add dev lo root handle 1: htb 2>/dev/null || ok=0
  ip netns exec "$probe" iptables -A INPUT -m statistic --mode random --probability 0.5 \
    -j ACCEPT 2>/dev/null || ok=0
  ip netns del "$probe"
  [ "$ok" -eq 1 ]
}

# net_up K: namespaces for nodes 0..K-1 on one bridge. Fails (1) on any error.
net_up() {
  local k=$1 i ns
  NET_NODES=$k
  ip netns add "$NET_HUB" || return 1
  ip -n "$NET_HUB" link add br0 type bridge || return 1
  ip -n "$NET_HUB" link set br0 up || return 1
  for ((i = 0; i < k; i++)); do
    ns=$(net_ns "$i")
    ip netns add "$ns" || return 1
    ip link add name eth0 netns "$ns" type veth peer name "h$i" netns "$NET_HUB" || return 1
    ip -n "$NET_HUB" link set "h$i" master br0 up || return 1
    ip -n "$ns" link set lo up || return 1
    ip -n "$ns" addr add "$(net_addr "$i")/24" dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_congestion_control=bbr || return 1
    ip netns exec "$ns" iptables -N SMN-CUT || return 1
    ip netns exec "$ns" iptables -A INPUT -j SMN-CUT || return 1
  done
  net_wait_ready
}

# net_reachable I J: node I reaches node J (a TCP dial to a closed port is
# refused at once when the path works and times out when it is cut).
net_reachable() {
  local rc
  net_exec "$1" timeout 2 bash -c "echo >/dev/tcp/$(net_addr "$2")/9" 2>/dev/null
  rc=$?
  [ "$rc" -ne 124 ]
}

# net_wait_ready: node 0 reaches every node (the links are up).
net_wait_ready() {
  local i n
  for ((i = 1; i < NET_NODES; i++)); do
    for n in $(seq 50); do
      net_reachable 0 "$i" && break
      [ "$n" -eq 50 ] && return 1
      sleep 0.1
    done
  done
  return 0
}

# net_rate_qdisc NS DEV RATE: htb with one default class at RATE (e.g. 100mbit).
net_rate_qdisc() {
  local ns=$1 dev=$2 rate=$3
  ip netns exec "$ns" tc qdisc replace dev "$dev" root handle 1: htb default 10 || return 1
  ip netns exec "$ns" tc class add dev "$dev" parent 1: classid 1:10 htb rate "$rate" \
    ceil "$rate" quantum 60000 || return 1
  ip netns exec "$ns" tc qdisc add dev "$dev" parent 1:10 handle 10: pfifo limit 1000
}

# net_shape I RATE DELAY_MS LOSS_PERCENT: node I's link. RATE "" = unlimited,
# DELAY_MS 0 = none, LOSS_PERCENT 0 = none (may be fractional: 0.5).
net_shape() {
  local i=$1 rate=$2 delay=$3 loss=$4 ns tun
  ns=$(net_ns "$i")
  if [ -n "$rate" ]; then
    net_rate_qdisc "$ns" eth0 "$rate" || return 1
    net_rate_qdisc "$NET_HUB" "h$i" "$rate" || return 1
  fi
  if [ "$delay" -gt 0 ]; then
    tun=smd$i
    ip -n "$ns" tuntap add dev "$tun" mode tun || return 1
    ip -n "$ns" link set "$tun" up || return 1
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
      "net.ipv4.conf.$tun.rp_filter=0" "net.ipv4.conf.$tun.accept_local=1" \
      net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0 || return 1
    # Locally sent packets go through the tun device (table 100); what the
    # delay tool writes back arrives on the tun device and leaves by eth0.
    ip -n "$ns" route add 10.77.0.0/24 dev "$tun" src "$(net_addr "$i")" table 100 || return 1
    ip -n "$ns" rule add iif lo to 10.77.0.0/24 lookup 100 pref 100 || return 1
    ip netns exec "$ns" "$NET_DELAY_BIN" --dev "$tun" --delay-ms "$delay" 2>>"${NET_LOG:-/dev/null}" &
    NET_DELAY_PIDS+=($!)
  fi
  if [ "$loss" != 0 ]; then
    ip netns exec "$ns" iptables -I INPUT 1 -i eth0 -m statistic --mode random \
      --probability "$(awk -v p="$loss" 'BEGIN { printf "%.4f", p / 100 }')" -j DROP || return 1
  fi
}

# net_cut "A..." "B...": drop every packet between node sets A and B (both ways).
net_cut() {
  local a b
  for a in $1; do
    for b in $2; do
      net_exec "$a" iptables -A SMN-CUT -s "$(net_addr "$b")" -j DROP || return 1
      net_exec "$b" iptables -A SMN-CUT -s "$(net_addr "$a")" -j DROP || return 1
    done
  done
}

# net_heal: removes every cut.
net_heal() {
  local i
  for ((i = 0; i < NET_NODES; i++)); do
    net_exec "$i" iptables -F SMN-CUT
  done
}

# net_down: stops the delay tools and deletes every namespace we made (which
# removes their links, bridge and rules). Safe to call twice.
net_down() {
  local i p
  for p in "${NET_DELAY_PIDS[@]}"; do
    kill "$p" 2>/dev/null
  done
  for p in "${NET_DELAY_PIDS[@]}"; do
    wait "$p" 2>/dev/null
  done
  NET_DELAY_PIDS=()
  for ((i = 0; i < NET_NODES; i++)); do
    ip netns del "$(net_ns "$i")" 2>/dev/null
  done
  ip netns del "$NET_HUB" 2>/dev/null
  NET_NODES=0
}
