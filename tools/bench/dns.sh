#!/bin/sh
# The run's resolver's cost per query: N sequential A queries answered by a
# test DNS server in a network namespace of this script's own (dns_bench
# serve), asked straight from the host (the upstream's own latency) and from
# a sandbox through the run's resolver (127.0.0.53), which forwards each
# query and adds the answered address to the run's nftables sets before it
# relays the answer. The difference of the medians is what the resolver adds.
#
#   tools/bench/dns.sh [N]      (default 500)
set -eu
cd "$(dirname "$0")/../.."
count="${1:-500}"
[ -x build/tierbox ] && [ -x build/tierbox-net ] && [ -x build/dns_bench ] || tools/build.sh --tests >/dev/null
ns="tbxbench-dns-$$"
veth="tbbd$$"
address="203.0.113.$((2 + $$ % 250))"
work="$(mktemp -d /tmp/tierbox-dns-bench.XXXXXX)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  ip link del "$veth" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip link add "$veth" type veth peer name h0 netns "$ns"
ip link set "$veth" up
ip route add "$address/32" dev "$veth"
ip netns exec "$ns" sh -c "ip link set lo up && ip link set h0 up && ip addr add $address/32 dev h0 && ip route add default dev h0"
ip netns exec "$ns" build/dns_bench serve 53 &
server=$!
mkdir -p "$work/config" "$work/workspace"
cp tools/bench/approvals.json "$work/config/"
# A budget above what the sequential queries ask (the default, 200 a second,
# would drop them after the first 400: that is the flood limit, not a cost).
echo "{\"dns_upstream\": \"$address\", \"dns_queries_per_second\": 100000}" > "$work/config/tierbox.json"
cp build/dns_bench "$work/workspace/"
sleep 0.2
export TIERBOX_AUDIT_LOG="${TIERBOX_AUDIT_LOG:-/var/tmp/tierbox-bench/audit.jsonl}"
echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf 'upstream, from the host:       '
build/dns_bench query "$address" 53 "$count" bench-dns.example
printf 'through the run'"'"'s resolver:    '
build/tierbox run --config-dir "$work/config" --profile "$(pwd)/tools/bench/allowlist-names.json" \
  --workspace "$work/workspace" -- ./dns_bench query 127.0.0.53 53 "$count" bench-dns.example
