#!/usr/bin/env bash
# examples/demo.sh [STATE_DIR [MOUNTPOINT]] - a mounted demo appliance.
#
# Installs the Debian packages that are missing, builds backupfs, creates a
# state directory with sample data (or reuses it), mounts it in the
# background and prints a short tour.  Re-runnable: an existing state is
# reused, an existing mount is left alone.  Run as root on Debian 12.
#
# A second appliance, to restore onto:
#   examples/demo.sh /var/tmp/backupfs-demo/state2 /var/tmp/backupfs-demo/mnt2
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${1:-/var/tmp/backupfs-demo/state}
MNT=${2:-/var/tmp/backupfs-demo/mnt}
BUILD=$ROOT/build
. "$ROOT/scripts/deps.sh"

say() { echo "demo.sh: $*"; }
die() { echo "demo.sh: $*" >&2; exit 1; }

# A FUSE mount whose daemon is gone: listed in /proc/mounts, but stat fails.
stale_mount() {
	! mountpoint -q "$1" 2>/dev/null &&
		awk -v m="$1" '$2 == m && $3 ~ /^fuse/ { found = 1 } END { exit !found }' /proc/mounts
}

tour() {
	cat <<EOF

backupfs is mounted at $MNT (state directory: $STATE).

  export PATH="$BUILD:\$PATH" BACKUPFS_STATE="$STATE"

The tree:
EOF
	(cd "$MNT" && ls -F . system system/backups system/backupkeys domains) |
		sed 's/^/  /'
	cat <<EOF

Look around:
  cat $MNT/appliance.json
  ls $MNT/domains/root/resources/keys
  backupctl resource list --type keys | jq -c '{domain, name, fingerprint}' | head

Back up (ksctl backup create / list / get / status):
  echo '{"description":"first"}' > $MNT/system/backups/create
  cat $MNT/wait                      # blocks until done (or: backupctl wait $MNT)
  ls $MNT/system/backups/
  cat $MNT/system/backups/latest/backup.json
  cat $MNT/system/backups/latest/status

Download and inspect (ksctl backup download / inspect):
  mkdir -p /tmp/bk && cp $MNT/system/backups/latest/*.backup /tmp/bk/
  backupctl inspect /tmp/bk/*.backup   # the clear header, no key needed
  backupctl verify /tmp/bk/*.backup    # full authentication with this appliance's keys

Export the backup key, wrapped with a passphrase (ksctl backupkeys download):
  echo -n 'demo passphrase' > $MNT/passphrase
  cp $MNT/system/backupkeys/default/*.backupkey /tmp/bk/
  backupctl inspect /tmp/bk/*.backupkey --password   # checks the passphrase

Restore here (ksctl backup restore):
  echo '{}' > $MNT/system/backups/latest/restore
  cat $MNT/wait

Upload and restore on a second appliance (ksctl backupkeys upload,
backup upload, backup restore):
  $ROOT/examples/demo.sh /var/tmp/backupfs-demo/state2 /var/tmp/backupfs-demo/mnt2
  M2=/var/tmp/backupfs-demo/mnt2
  echo -n 'demo passphrase' > \$M2/passphrase
  cp /tmp/bk/*.backupkey \$M2/system/backupkeys/upload/
  cp /tmp/bk/*.backup \$M2/system/backups/restore/    # uploaded, then restored
  cat \$M2/wait
  diff <(backupctl --state $STATE resource list) \\
       <(backupctl --state /var/tmp/backupfs-demo/state2 resource list) && echo identical
  (cp x.backup .../system/backups/upload/ uploads without restoring.)

Unmount:
  fusermount3 -u $MNT

More: $ROOT/README.md, $ROOT/docs/OPERATIONS.md, and cat $MNT/README
EOF
}

bk_install_missing "${BK_BUILD_PACKAGES[@]}"
[ -c /dev/fuse ] || die "/dev/fuse is missing (modprobe fuse; in a container: --device /dev/fuse --cap-add SYS_ADMIN)"

say "building in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j2 --target backupfs backupctl >/dev/null

if mountpoint -q "$MNT" 2>/dev/null; then
	say "$MNT is already mounted"
	tour
	exit 0
fi
if stale_mount "$MNT"; then
	say "$MNT: a stale mount (its daemon is gone); unmounting it"
	fusermount3 -uz "$MNT"
fi

if [ -d "$STATE" ] && [ -n "$(ls -A "$STATE")" ]; then
	say "using the existing state directory $STATE"
else
	mkdir -p "$(dirname "$STATE")"
	"$BUILD/backupctl" init "$STATE" --demo
fi

mkdir -p "$MNT"
"$BUILD/backupfs" "$STATE" "$MNT" || die "backupfs could not mount $MNT"
for ((i = 0; i < 100; i++)); do
	mountpoint -q "$MNT" && break
	sleep 0.1
done
mountpoint -q "$MNT" || die "$MNT is not mounted after 10 s (see the system log)"
say "mounted $STATE at $MNT"
tour
