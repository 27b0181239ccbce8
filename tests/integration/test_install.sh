#!/usr/bin/env bash
# test_install.sh - `cmake --install` of the build directory that holds
# backupfs into a temporary DESTDIR (prefix /usr/local), then, with the
# INSTALLED programs: --version/--help, `backupctl init`, a mount through
# `mount -t fuse.backupfs` (mount.fuse3) and through an fstab line, a backup,
# a key export with -o passphrase_file, unmount; the man pages render with
# no warning (groff -ww, man -l); the examples are installed.
#
# mount(8) runs its helpers with no PATH, so mount.fuse3's `sh -c backupfs
# ...` finds backupfs only in sh's default path (/usr/local/bin, /usr/bin,
# ...).  To mount the DESTDIR's binary without touching the system, the test
# re-runs itself in a private mount namespace (unshare -m, root) and lays
# DESTDIR/usr/local/bin over /usr/local/bin with a read-only overlay there:
# exactly what a real `cmake --install --prefix /usr/local` gives.
#
# Needs: util-linux (unshare, mount, findmnt), fuse3 (mount.fuse3,
# fusermount3), groff-base (groff), man-db (man), jq, overlayfs.
set -euo pipefail

if [ -z "${BK_INSTALL_NS:-}" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "test_install.sh: needs root (mount namespace, mount -t)" >&2
		exit 1
	fi
	export BK_INSTALL_NS=1
	exec unshare -m --propagation private bash "$0" "$@"
fi

source "$(dirname "$0")/lib.sh"
bk_setup "$@"

BUILD=$(cd "$(dirname "$BACKUPFS")" && pwd)
D=$BK_TMP/destdir
P=$D/usr/local
OVERLAY=
INST_MOUNTS=()		# mounts made through mount(8): the daemon is detached

# Unmounts what mount(8) mounted and the overlay, before lib.sh's clean-up
# (which only knows bk_mount's daemons), keeping the exit status for it
# (errexit off first: a non-zero return would end the trap here).
inst_cleanup() {
	local rc=$? m
	set +e
	for m in "${INST_MOUNTS[@]}"; do
		grep -qs " $m fuse" /proc/mounts || continue
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
	done
	[ -n "$OVERLAY" ] && umount -l "$OVERLAY" 2>/dev/null
	return "$rc"
}
trap 'inst_cleanup; bk__cleanup' EXIT

# The pid of the backupfs serving MNT (a detached daemon, not our child).
daemon_pid() {
	local f
	for f in /proc/[0-9]*/cmdline; do
		if tr '\0' ' ' 2>/dev/null < "$f" | grep -q "^backupfs .* $1 "; then
			f=${f#/proc/}
			echo "${f%/cmdline}"
			return 0
		fi
	done
	return 1
}

# inst_umount CMD MNT: unmounts with CMD, then waits (10 s) for the daemon.
inst_umount() {
	local cmd=$1 mnt=$2 pid i
	pid=$(daemon_pid "$mnt" || true)
	assert_ok $cmd "$mnt"
	for ((i = 0; i < 100; i++)); do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -qs " $mnt fuse" /proc/mounts; then
		fail "$mnt still mounted after $cmd"
	else
		pass "$mnt unmounted by $cmd"
	fi
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		fail "backupfs ($pid) still running 10 s after $cmd"
	else
		pass "the daemon exited after $cmd"
	fi
}

# ---- install ----

assert_ok env DESTDIR="$D" cmake --install "$BUILD" --prefix /usr/local
for f in bin/backupfs bin/backupctl; do
	[ -x "$P/$f" ] && pass "installed $f" || fail "$P/$f missing or not executable"
done
for f in share/man/man1/backupfs.1 share/man/man1/backupctl.1 \
	share/doc/backupfs/examples/fstab.example \
	share/doc/backupfs/examples/systemd/backupfs@.service \
	share/doc/backupfs/examples/container/Dockerfile \
	share/doc/backupfs/examples/container/compose.yaml; do
	[ -f "$P/$f" ] && pass "installed $f" || fail "$P/$f missing"
done
[ -x "$P/share/doc/backupfs/examples/container/entrypoint.sh" ] &&
	pass "example scripts keep their mode" ||
	fail "examples/container/entrypoint.sh not executable once installed"
assert_eq "$(cd "$D" && find . -mindepth 1 -maxdepth 2 | sort | tr '\n' ' ')" \
	"./usr ./usr/local " "DESTDIR holds only usr/local"

# --prefix alone, no DESTDIR
assert_ok cmake --install "$BUILD" --prefix "$BK_TMP/prefix"
[ -x "$BK_TMP/prefix/bin/backupfs" ] && [ -f "$BK_TMP/prefix/share/man/man1/backupctl.1" ] &&
	pass "--prefix installs under the prefix" || fail "--prefix: files missing"

# ---- the installed programs ----

BFS=$P/bin/backupfs
BCTL=$P/bin/backupctl
assert_match "$("$BCTL" --version)" '^backupctl [0-9]+\.[0-9]+\.[0-9]+$' "backupctl --version"
out=$("$BFS" --version)
assert_match "${out%%$'\n'*}" '^backupfs [0-9]+\.[0-9]+\.[0-9]+$' "backupfs --version"
assert_contains "$("$BCTL" --help)" "Usage: backupctl" "backupctl --help"
assert_contains "$("$BFS" --help 2>&1)" "usage: backupfs" "backupfs --help"
assert_status 0 "$BCTL" --help
assert_status 0 "$BFS" --help
assert_status 2 "$BCTL" no-such-command

STATE=$BK_TMP/state
MNT=$BK_TMP/mnt
mkdir -p "$MNT"
assert_ok "$BCTL" init "$STATE" --product-version 2.17.0
PASS=$BK_TMP/pass
printf 'installed passphrase\n' > "$PASS"
chmod 600 "$PASS"

# /usr/local/bin = DESTDIR's bin over the real one, in this namespace only.
OVERLAY=/usr/local/bin
mkdir -p /usr/local/bin
assert_ok mount -t overlay overlay -o "lowerdir=$P/bin:/usr/local/bin" /usr/local/bin
assert_eq "$(env -i /bin/sh -c 'command -v backupfs')" /usr/local/bin/backupfs \
	"backupfs in sh's default PATH (as mount.fuse3 runs it)"

# ---- mount -t fuse.backupfs (options after the operands, as mount.fuse3 passes them) ----

INST_MOUNTS+=("$MNT")
assert_ok mount -t fuse.backupfs "$STATE" "$MNT" \
	-o "nosuid,nodev,noexec,allow_other,default_permissions,entry_timeout=0,attr_timeout=0,negative_timeout=0,passphrase_file=$PASS,_netdev,nofail"
line=$(grep " $MNT " /proc/mounts || true)
assert_match "$line" "^$STATE $MNT fuse\.backupfs " "mounted: STATE on MNT type fuse.backupfs"
assert_contains "$line" "nosuid,nodev,noexec" "mount flags applied"
assert_contains "$line" "allow_other" "allow_other applied"
pid=$(daemon_pid "$MNT" || true)
if [ -n "$pid" ]; then
	assert_eq "$(readlink "/proc/$pid/exe")" /usr/local/bin/backupfs "the installed daemon serves"
else
	fail "no backupfs process for $MNT"
fi
assert_eq "$(jq -r .status "$MNT/status")" Idle "status Idle"
assert_eq "$(jq -r .productVersion "$MNT/appliance.json")" 2.17.0 "appliance.json"

bk_put "$MNT/system/backups/create" '{"description":"installed"}'
assert_eq "$(timeout 30 cat "$MNT/wait" | jq -r .status)" Completed "backup Completed"
id=$(jq -r .backupId "$MNT/status")
assert_match "$id" '^[0-9a-f]+$' "backup id"
assert_eq "$(jq -r .description "$MNT/system/backups/latest/backup.json")" installed "backup.json"
cp "$MNT/system/backups/$id/$id.backup" "$BK_TMP/a.backup"
assert_ok "$BCTL" --state "$STATE" verify "$BK_TMP/a.backup"
# the passphrase came through mount.fuse3's -o
cp "$MNT"/system/backupkeys/default/*.backupkey "$BK_TMP/k.backupkey"
assert_ok "$BCTL" inspect "$BK_TMP/k.backupkey" --password-file "$PASS"
inst_umount "fusermount3 -u" "$MNT"

# ---- an fstab line (mount MNT), unmounted with umount ----

FSTAB=$BK_TMP/fstab
printf '%s %s fuse.backupfs defaults,allow_other,entry_timeout=0,attr_timeout=0,negative_timeout=0,_netdev,nofail,x-systemd.automount 0 0\n' \
	"$STATE" "$MNT" > "$FSTAB"
assert_ok mount -T "$FSTAB" "$MNT"
assert_match "$(grep " $MNT " /proc/mounts || true)" "^$STATE $MNT fuse\.backupfs " "fstab mount"
assert_eq "$(ls "$MNT/system/backups/$id")" "$(printf '%s\n' backup.json restore scp scp-status status "$id.backup" | sort)" \
	"the backup is there after a remount"
inst_umount umount "$MNT"

# the shipped example line parses as an fstab entry of type fuse.backupfs
assert_eq "$(findmnt -n --fstab -F "$P/share/doc/backupfs/examples/fstab.example" -o FSTYPE | head -n 1)" \
	fuse.backupfs "examples/fstab.example parses"

# ---- man pages ----

for page in backupfs backupctl; do
	f=$P/share/man/man1/$page.1
	err=$(groff -man -ww -z "$f" 2>&1 >/dev/null)
	assert_eq "$err" "" "groff -man -ww -z $page.1: no warnings"
	err=$(MANWIDTH=80 man -l "$f" 2>&1 >/dev/null)
	assert_eq "$err" "" "man -l $page.1: nothing on stderr"
	out=$(MANWIDTH=80 man -l "$f" 2>/dev/null)
	assert_contains "$out" "SYNOPSIS" "man -l $page.1 renders"
	out=$(MANPATH=$P/share/man MANWIDTH=80 man "$page" 2>/dev/null)
	assert_match "${out%%$'\n'*}" "^${page^^}\(1\)" "man $page finds the installed page"
done
out=$(MANWIDTH=80 man -l "$P/share/man/man1/backupfs.1" 2>/dev/null)
for n in README status wait appliance.json passphrase create upload/ restore/ latest \
	backup.json restore-report.json .backupkey key.json default resources/ \
	passphrase_file= hsm= allow_other default_permissions entry_timeout EINVAL EBUSY EACCES ENOENT; do
	assert_contains "$out" "$n" "backupfs(1) documents $n"
done
out=$(MANWIDTH=80 man -l "$P/share/man/man1/backupctl.1" 2>/dev/null)
for n in init config domain "resource add" "resource list" "resource delete" \
	"resource import" "backupkey list" inspect verify wait --state --timeout \
	--password-file --demo --lts BACKUPFS_STATE "EXIT STATUS"; do
	assert_contains "$out" "$n" "backupctl(1) documents $n"
done

bk_done
