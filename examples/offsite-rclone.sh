#!/usr/bin/env bash
# examples/offsite-rclone.sh - nightly off-site copy of backupfs archives with rclone.
#
# usage: offsite-rclone.sh [--prune] MOUNT REMOTE
#
# The rclone twin of offsite-rsync.sh.  REMOTE is any rclone destination:
# "s3:bucket/appliance1", "sftp-host:backups", or a local path (rclone's
# local backend).  Layout, as with offsite-rsync.sh:
#
#   REMOTE/system/<id>/{<id>.backup,backup.json}
#   REMOTE/domains/<d>/<id>/{<id>.backup,backup.json}
#
# - Only Completed backups: the script builds, per scope, a --files-from
#   list of the backups whose `status` starts with "Completed", and rclone
#   reads nothing else (never a backup In Progress or Failed).
# - Nothing partial: archives are copied first, backup.json files in a second
#   pass, so a backup.json on REMOTE means its archive is complete.
# - Idempotent: rclone compares size and mtime, which are stable for
#   Completed archives; a second run transfers nothing.
# - --prune: "rclone sync --delete-excluded" with the same list, so REMOTE
#   holds exactly the appliance's Completed backups (domains deleted on the
#   appliance are purged too).  Only run it against a REMOTE used for this
#   appliance alone.
# - Extra rclone options: RCLONE_OPTS (e.g. "--bwlimit 10M --transfers 2");
#   rclone's own RCLONE_* environment variables apply too.
# - Exit status: 0 on success, 1 on any failure, 2 on usage.
set -euo pipefail

usage() { echo "usage: $(basename "$0") [--prune] MOUNT REMOTE" >&2; exit 2; }
say() { echo "offsite-rclone: $*"; }
die() { echo "offsite-rclone: $*" >&2; exit 1; }

prune=0
args=()
for a in "$@"; do
	case $a in
	--prune) prune=1 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) args+=("$a") ;;
	esac
done
[ ${#args[@]} -eq 2 ] || usage
MOUNT=${args[0]%/}
REMOTE=${args[1]%/}
read -r -a extra <<< "${RCLONE_OPTS:-}"
command -v rclone >/dev/null || die "rclone is not installed (apt-get install rclone)"
if [ ! -f "$MOUNT/appliance.json" ] || [ ! -d "$MOUNT/system/backups" ]; then
	die "$MOUNT is not a mounted backupfs"
fi

lists=$(mktemp -d)
trap 'rm -rf "$lists"' EXIT
failed=0

# sync_scope SRC_DIR SCOPE: SRC_DIR is a backups/ directory of the tree.
sync_scope() {
	local src=$1 scope=$2 dir id st n
	local archives=$lists/archives meta=$lists/meta
	: > "$archives"
	: > "$meta"
	for dir in "$src"/*/; do
		id=$(basename "$dir")
		[[ $id =~ ^[0-9a-f]{32}$ ]] || continue	# latest, upload/, restore/
		st=$(head -n 1 "$dir/status" 2>/dev/null) || continue
		if [[ $st != Completed* ]]; then
			say "skipping $scope/$id: $st"
			continue
		fi
		echo "$id/$id.backup" >> "$archives"
		echo "$id/backup.json" >> "$meta"
	done
	n=$(wc -l < "$archives")
	say "$scope: $n Completed backup(s)"
	if [ "$n" -gt 0 ]; then
		if ! rclone copy "${extra[@]}" --files-from-raw "$archives" "$src" "$REMOTE/$scope" ||
			! rclone copy "${extra[@]}" --files-from-raw "$meta" "$src" "$REMOTE/$scope"; then
			echo "offsite-rclone: FAILED to copy $scope" >&2
			failed=1
			return 0
		fi
	fi
	if [ "$prune" -eq 1 ]; then
		# Transfers nothing new (just copied); deletes whatever is not listed.
		cat "$meta" >> "$archives"
		rclone sync "${extra[@]}" --files-from-raw "$archives" --delete-excluded \
			"$src" "$REMOTE/$scope" ||
			{ echo "offsite-rclone: FAILED to prune $scope" >&2; failed=1; }
	fi
}

domains=()
sync_scope "$MOUNT/system/backups" system
for d in "$MOUNT"/domains/*/; do
	d=$(basename "$d")
	domains+=("$d")
	sync_scope "$MOUNT/domains/$d/backups" "domains/$d"
done

# Domains deleted on the appliance: purge their directories on REMOTE.
if [ "$prune" -eq 1 ] && [ "$failed" -eq 0 ]; then
	while read -r d; do
		d=${d%/}
		[ -n "$d" ] || continue
		if [[ " ${domains[*]} " != *" $d "* ]]; then
			say "pruning domains/$d (not on the appliance)"
			rclone purge "${extra[@]}" "$REMOTE/domains/$d" || failed=1
		fi
	done < <(rclone lsf --dirs-only "$REMOTE/domains" 2>/dev/null || true)
fi

[ "$failed" -eq 0 ] || die "some copies failed"
say "done"
