#!/usr/bin/env bash
# keelcfg against the scenario configurations and hand-made broken ones:
# good files pass, each broken file fails and names the line and guest.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
kc="$root/build/host/keelcfg"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

check() {       # check NAME EXPECTED_RC REGEX -- ARGS...
	local name=$1 want=$2 re=$3
	shift 4
	local out rc
	out=$("$kc" "$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && printf '%s\n' "$out" | grep -Eq -- "$re"; then
		pass=$((pass + 1))
		echo "PASS $name"
	else
		fail=$((fail + 1))
		echo "FAIL $name (exit $rc, want $want; output below)"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
}

for f in "$root"/tests/scenarios/conf/*.conf; do
	case $f in *badconf*) continue ;; esac
	check "good $(basename "$f")" 0 '.*' -- check "$f"
done
check "badconf names line and guest" 1 ':11: guest broken: unknown key' -- \
	check "$root/tests/scenarios/conf/guests-badconf.conf"

cat > "$tmp/two.conf" <<'CONF'
[guest.a]
image = "x"
format = "multiboot"
memory = "16M"
cpus = [1]
[guest.b]
image = "y"
format = "multiboot"
memory = "99Q"
cpus = [1]
CONF
check "bad size names line 9" 1 ':9: guest b: .*size' -- check "$tmp/two.conf"
check "cpu that does not exist" 1 'guest a: .*cpu' -- check "$tmp/two.conf" --cpus 1
check "missing image" 1 "guest a: .*'x'" -- check "$tmp/two.conf" --modules y
check "memory that does not fit" 1 'guest a: .*memory' -- check "$tmp/two.conf" --mem 8M
check "valid guest summary" 1 'guest a: multiboot, 16M, cpus 1' -- check "$tmp/two.conf"

cat > "$tmp/pci.conf" <<'CONF'
[guest.a]
image = "x"
format = "multiboot"
memory = "16M"
cpus = [1]
disk = "y"
net = "lan0"
[guest.b]
image = "y"
format = "multiboot"
memory = "16M"
cpus = [2]
net = "lan0"
[shm.ring]
size = "64K"
guests = ["a", "b"]
gpa = [0xf0000000, 0x100000000]
readonly = ["b"]
CONF
check "pci guest summary" 0 'guest a: .*disk y, net lan0 52:54:00:00:00:01, shm ring' -- \
	check "$tmp/pci.conf" --modules x,y
check "shm summary" 0 'shm ring: 64K, a at 0xf0000000, b at 0x100000000 \(read-only\)' -- \
	check "$tmp/pci.conf"
check "shm dump" 0 'gpa = 0xf0000000 0x100000000' -- dump "$tmp/pci.conf"
sed 's/0xf0000000/0xc0000000/' "$tmp/pci.conf" > "$tmp/pci-bad.conf"
check "shm in the PCI window" 1 ':17: shm ring: .*PCI window' -- \
	check "$tmp/pci-bad.conf"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
