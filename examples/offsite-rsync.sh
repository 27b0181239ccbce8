#!/usr/bin/env bash
# examples/offsite-rsync.sh - nightly off-site copy of backupfs archives with rsync.
#
# usage: offsite-rsync.sh [--prune] MOUNT DEST
#
# Copies every Completed backup of MOUNT/system/backups and of each
# MOUNT/domains/<d>/backups into
#
#   DEST/system/<id>/{<id>.backup,backup.json}
#   DEST/domains/<d>/<id>/{<id>.backup,backup.json}
#
# - Only directories whose `status` starts with "Completed" are copied: never
#   a backup In Progress or Failed.  A Completed archive never changes.
# - Nothing partial: rsync writes each file under a temporary name and renames
#   it when complete, and backup.json is copied after the archive, so a
#   backup.json in DEST means the archive beside it is whole.
# - Idempotent: sizes and mtimes of archives are stable, so a second run
#   copies nothing (the script prints how many files it copied).
# - --prune deletes from DEST the backups that are no longer on the appliance
#   (only directories named like backup ids, only under DEST/system and
#   DEST/domains/*, and only when MOUNT really is a mounted backupfs).
# - DEST may be anything rsync accepts as a destination directory
#   (a local path, or user@host:path with RSYNC_RSH/ssh; --prune needs a
#   local DEST).  Extra rsync options: RSYNC_OPTS (e.g. "--bwlimit=10m").
# - Exit status: 0 if everything was copied, 1 on any failure, 2 on usage.
#
# Nightly, from a systemd timer or cron:
#   offsite-rsync.sh --prune /mnt/backupfs /srv/offsite/appliance1
set -euo pipefail

usage() { echo "usage: $(basename "$0") [--prune] MOUNT DEST" >&2; exit 2; }
say() { echo "offsite-rsync: $*"; }
die() { echo "offsite-rsync: $*" >&2; exit 1; }

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
DEST=${args[1]%/}
read -r -a extra <<< "${RSYNC_OPTS:-}"

# Refuse an unmounted directory: --prune would otherwise delete everything.
if [ ! -f "$MOUNT/appliance.json" ] || [ ! -d "$MOUNT/system/backups" ]; then
	die "$MOUNT is not a mounted backupfs"
fi

copied=0 failed=0
declare -A keep=()	# "scope/id" of every Completed backup seen

# copy_scope SRC_DIR SCOPE: SRC_DIR is a backups/ directory of the tree.
copy_scope() {
	local src=$1 scope=$2 dir id st out
	for dir in "$src"/*/; do
		id=$(basename "$dir")
		[[ $id =~ ^[0-9a-f]{32}$ ]] || continue	# latest, upload/, restore/
		st=$(head -n 1 "$dir/status" 2>/dev/null) || continue	# deleted meanwhile
		if [[ $st != Completed* ]]; then
			say "skipping $scope/$id: $st"
			continue
		fi
		keep["$scope/$id"]=1
		# Archive first, metadata second; --mkpath needs rsync >= 3.2.3.
		if out=$(rsync -a --mkpath --out-format='%n' "${extra[@]}" \
			"$src/$id/$id.backup" "$DEST/$scope/$id/" &&
			rsync -a --out-format='%n' "${extra[@]}" \
				"$src/$id/backup.json" "$DEST/$scope/$id/"); then
			if [ -n "$out" ]; then
				copied=$((copied + $(printf '%s\n' "$out" | wc -l)))
				say "copied $scope/$id"
			fi
		else
			echo "offsite-rsync: FAILED to copy $scope/$id" >&2
			failed=$((failed + 1))
		fi
	done
}

copy_scope "$MOUNT/system/backups" system
for d in "$MOUNT"/domains/*/; do
	d=$(basename "$d")
	copy_scope "$MOUNT/domains/$d/backups" "domains/$d"
done

if [ "$prune" -eq 1 ] && [ "$failed" -eq 0 ]; then
	[ -d "$DEST" ] || die "--prune needs a local DEST directory"
	for dir in "$DEST"/system/*/ "$DEST"/domains/*/*/; do
		[ -d "$dir" ] || continue
		id=$(basename "$dir")
		[[ $id =~ ^[0-9a-f]{32}$ ]] || continue
		scope=$(dirname "${dir#"$DEST"/}")
		if [ -z "${keep["$scope/$id"]:-}" ]; then
			rm -rf -- "${DEST:?}/$scope/$id"
			say "pruned $scope/$id (deleted on the appliance)"
		fi
	done
	rmdir "$DEST"/domains/*/ 2>/dev/null || true	# domains left empty
fi

say "copied $copied file(s), $failed failure(s)"
[ "$failed" -eq 0 ]
