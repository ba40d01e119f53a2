#!/usr/bin/env bash
# Install the Debian 12 packages Keel needs, by group.
#
#   tools/deps.sh [build] [bochs] [qemu] [host-test] [linux] [all]
#
# With no argument, installs "all". Packages already installed are skipped,
# so a second run does nothing and prints nothing. As root it runs
# apt-get itself; otherwise it prints the apt-get line to run and fails.
set -euo pipefail

pkgs_build=(gcc make binutils grub-pc-bin grub-efi-amd64-bin grub-common xorriso mtools)
pkgs_bochs=(bochs bochs-sdl bochsbios vgabios)
pkgs_qemu=(qemu-system-x86 ovmf)
# acpica-tools: iasl, which reads back the AML of the guests' DSDT.
pkgs_host_test=(clang libclang-rt-14-dev libzydis-dev acpica-tools)
# A Linux guest: a static busybox for its initramfs, cpio. Debian's kernel
# itself is not installed: tools/fetch-linux unpacks its package into build/
# and runs kmod's depmod on it (the package ships no modules.dep); e2fsprogs
# builds the guest's ext4 test disk (tools/mkdisk).
pkgs_linux=(busybox-static cpio gzip kmod e2fsprogs)

usage() {
	echo "usage: $0 [build|bochs|qemu|host-test|linux|all]..." >&2
	exit 2
}

wanted=()
add_group() {
	case "$1" in
	build) wanted+=("${pkgs_build[@]}") ;;
	bochs) wanted+=("${pkgs_bochs[@]}") ;;
	qemu) wanted+=("${pkgs_qemu[@]}") ;;
	host-test) wanted+=("${pkgs_host_test[@]}") ;;
	linux) wanted+=("${pkgs_linux[@]}") ;;
	all)
		add_group build
		add_group bochs
		add_group qemu
		add_group host-test
		add_group linux
		;;
	-h | --help) usage ;;
	*)
		echo "$0: unknown group '$1'" >&2
		usage
		;;
	esac
}

if [ $# -eq 0 ]; then
	add_group all
fi
for g in "$@"; do
	add_group "$g"
done

is_installed() {
	local status
	status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
	[ "$status" = installed ]
}

missing=()
for p in "${wanted[@]}"; do
	case " ${missing[*]-} " in *" $p "*) continue ;; esac
	if ! is_installed "$p"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

install_cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -ne 0 ]; then
	echo "$0: missing packages: ${missing[*]}" >&2
	echo "run as root:" >&2
	echo "  apt-get update && DEBIAN_FRONTEND=noninteractive ${install_cmd[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "$0: installing ${missing[*]}"
apt-get update
"${install_cmd[@]}"
