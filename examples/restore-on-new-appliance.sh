#!/usr/bin/env bash
# examples/restore-on-new-appliance.sh - restore a backup onto another appliance.
#
# usage: restore-on-new-appliance.sh [--domain D] [--force] [--passphrase-file F]
#                                    ARCHIVE KEYFILE MOUNT
#
#   ARCHIVE   a backup archive (<id>.backup), e.g. from offsite-rsync.sh
#   KEYFILE   the exported backup key it was made with (<key-id>.backupkey)
#   MOUNT     the new appliance's mounted backupfs
#   --domain  for a domain backup: the domain to restore into (default: the
#             domain it was taken from); it must exist on the new appliance
#             (backupctl domain create D)
#   --force   restore across releases beyond the forward limit
#   passphrase: the key file's passphrase, first line of --passphrase-file F,
#             else $BACKUPFS_PASSPHRASE
#   BACKUPCTL: the backupctl program (default: backupctl on PATH)
#
# The steps, as a person would do them by hand (ksctl backupkeys upload,
# backup upload, backup restore):
#   1. backupctl inspect the archive (scope, domain, key) and the key file
#      (with the passphrase: checks it offline);
#   2. set the passphrase: MOUNT/passphrase;
#   3. upload the key:     cp KEYFILE MOUNT/<scope>/backupkeys/upload/
#   4. upload + restore:   cp ARCHIVE MOUNT/<scope>/backups/restore/
#   5. wait:               cat MOUNT/wait   (or backupctl wait MOUNT)
#   6. print the result and restore-report.json.
# Exit status 0 only if the restore Completed.
set -euo pipefail

usage() {
	echo "usage: $(basename "$0") [--domain D] [--force] [--passphrase-file F] ARCHIVE KEYFILE MOUNT" >&2
	exit 2
}
say() { echo "restore: $*" >&2; }
die() { echo "restore: $*" >&2; exit 1; }

BACKUPCTL=${BACKUPCTL:-backupctl}
domain='' force=0 passfile=''
args=()
while [ $# -gt 0 ]; do
	case $1 in
	--domain) [ $# -ge 2 ] || usage; domain=$2; shift ;;
	--force) force=1 ;;
	--passphrase-file) [ $# -ge 2 ] || usage; passfile=$2; shift ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) args+=("$1") ;;
	esac
	shift
done
[ ${#args[@]} -eq 3 ] || usage
ARCHIVE=${args[0]} KEYFILE=${args[1]} MOUNT=${args[2]%/}
[ -f "$MOUNT/appliance.json" ] || die "$MOUNT is not a mounted backupfs"

# The passphrase, in a private temporary file for backupctl.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "$passfile" ]; then
	head -n 1 "$passfile" > "$tmp/pass"
elif [ -n "${BACKUPFS_PASSPHRASE:-}" ]; then
	printf '%s\n' "$BACKUPFS_PASSPHRASE" > "$tmp/pass"
else
	die "no passphrase: use --passphrase-file F or set BACKUPFS_PASSPHRASE"
fi
chmod 600 "$tmp/pass"

# 1. What are these files?
say "inspecting $ARCHIVE"
"$BACKUPCTL" inspect "$ARCHIVE" > "$tmp/archive.json" || die "$ARCHIVE is not a readable archive"
say "inspecting $KEYFILE (checking the passphrase)"
"$BACKUPCTL" inspect "$KEYFILE" --password-file "$tmp/pass" > "$tmp/key.json" ||
	die "$KEYFILE: not a key file, or the passphrase is wrong"
[ "$(jq -r .kind "$tmp/archive.json")" = backup ] || die "$ARCHIVE is not a backup archive"
[ "$(jq -r .kind "$tmp/key.json")" = backupkey ] || die "$KEYFILE is not a backup key file"
id=$(jq -r .id "$tmp/archive.json")
scope=$(jq -r .scope "$tmp/archive.json")
need=$(jq -r .backupKey "$tmp/archive.json")
have=$(jq -r .id "$tmp/key.json")
[ "$need" = "$have" ] || die "the archive was made with key $need, $KEYFILE is key $have"
jq -c '{id, scope, domain, createdAt, productVersion, description, counts}' "$tmp/archive.json" >&2

case $scope in
system)
	[ -z "$domain" ] || die "--domain is for domain backups; this is a system backup"
	base=$MOUNT/system
	;;
domain)
	domain=${domain:-$(jq -r .domain "$tmp/archive.json")}
	base=$MOUNT/domains/$domain
	[ -d "$base" ] || die "domain $domain does not exist on this appliance (backupctl domain create $domain)"
	;;
*) die "unknown scope '$scope' in $ARCHIVE" ;;
esac
say "restoring $scope backup $id into ${base#"$MOUNT"/}"

# 2. The passphrase (per user, kept 10 minutes by the daemon).  `cat >`
# reports errors at close(2), which bash's builtin echo would not.
cat "$tmp/pass" > "$MOUNT/passphrase"

# 3. The key (uploading a key that is already there changes nothing).
cp "$KEYFILE" "$base/backupkeys/upload/$have.backupkey" ||
	die "key upload refused: $(jq -r '.lastError.message // .message' "$MOUNT/status")"

# 4. The archive: into restore/ (uploaded, then restored), or with --force
#    into upload/ and then {"force":true} into its restore file.
if [ "$force" -eq 0 ]; then
	cp "$ARCHIVE" "$base/backups/restore/$id.backup" ||
		die "restore refused: $(jq -r '.lastError.message // .message' "$MOUNT/status")"
else
	cp "$ARCHIVE" "$base/backups/upload/$id.backup" ||
		die "upload refused: $(jq -r '.lastError.message // .message' "$MOUNT/status")"
	printf '{"force":true}' | cat > "$base/backups/$id/restore" ||
		die "restore refused: $(jq -r '.lastError.message // .message' "$MOUNT/status")"
fi

# 5. Wait for it (blocks while the restore runs).
result=$(cat "$MOUNT/wait")

# 6. The result.
echo "$result"
report=$base/backups/$id/restore-report.json
if [ -f "$report" ]; then
	say "restore-report.json:"
	cat "$report"
fi
if [ "$(jq -r '.operation + " " + .backupId' <<< "$result")" != "restore $id" ]; then
	die "the last operation is not this restore"
fi
st=$(jq -r .status <<< "$result")
[ "$st" = Completed ] || die "restore $st: $(jq -r '.message // ""' <<< "$result")"
say "restore Completed"
