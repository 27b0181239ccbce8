# bench/data.sh - the data sets of bench/run.sh, made with the product
# itself (backupctl import, backups through the mount), kept in DIR and
# reused by the next run with the same sizes unless --fresh.  Sourced.

# fresh_state NAME STAMP: 0 (and a new, empty state DIR/NAME) when the data
# set must be made, 1 when DIR/NAME holds it already.  A kept data set
# that this build cannot open (a database from a development build whose
# schema numbering changed since) is made again.
fresh_state() {
	local s=$DIR/$1
	if [ "$FRESH" = 0 ] && [ -f "$s.stamp" ] &&
	   [ "$(cat "$s.stamp")" = "$2" ]; then
		if "$BACKUPCTL" --state "$s" domain list > /dev/null 2>&1; then
			log "reusing $s ($2)"
			return 1
		fi
		log "cannot open $s with this build: making it again"
	fi
	rm -rf "$s" "$s.stamp"
	"$BACKUPCTL" init "$s" >/dev/null
	return 0
}

# JSON lines of the data sets, into backupctl resource import.
import_keys() {
	seq 1 "$KEYS" | awk '{ printf "{\"domain\":\"big\",\"type\":\"keys\",\"name\":\"k%02d-%07d\"}\n", $1 % 100, $1 }' |
		"$BACKUPCTL" --state "$DIR/big" resource import - >/dev/null
}

import_frags() {
	seq 1 "$FRAGS" | awk -v n="$FRAG_SIZE" 'BEGIN {
		while (length(s) < n)
			s = s "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
		s = substr(s, 1, n) }
		{ printf "{\"domain\":\"root\",\"type\":\"customer_fragments\",\"name\":\"f%07d\",\"attrs\":{\"fragment\":\"%s\"}}\n", $1, s }' |
		"$BACKUPCTL" --state "$DIR/arch" resource import - >/dev/null
}

# The 1,000,000-key appliance: domain "big" holds KEYS AES keys named
# kBB-NNNNNNN (BB = N mod 100, so the name filter "k00-*" selects 1%).
make_big() {
	local stamp="keys=$KEYS" t
	if fresh_state big "$stamp"; then
		log "making $KEYS keys"
		"$BACKUPCTL" --state "$DIR/big" domain create big >/dev/null
		timed t import_keys
		log "import of $KEYS keys: $(secs "$t")"
		echo "$stamp" > "$DIR/big.stamp"
	fi
	# The run works on a copy: restores rewrite the table in the keys'
	# names' order and leave the file twice its size, and a backup of
	# that data is another workload than a backup of keys imported over
	# time (docs/PERFORMANCE.md).  Every run starts from the import.
	BIG=$W/big
	cp -a --reflink=auto "$DIR/big" "$BIG"
	mount_fs "$BIG" "$W/mbig"
}

# The archive of at least 1 GiB: a system backup of an appliance holding
# FRAGS customer fragments of FRAG_SIZE bytes each.  DIR/arch.backup is its
# download (the file that workload 3 uploads and restic backs up).
make_arch() {
	local stamp="frags=$FRAGS size=$FRAG_SIZE" t id
	if fresh_state arch "$stamp"; then
		log "making $FRAGS fragments of $FRAG_SIZE bytes"
		timed t import_frags
		log "import: $(secs "$t")"
		mount_fs "$DIR/arch" "$W/march"
		timed t backup_now "$W/march" system '{"description":"bench"}' > "$DIR/arch.id"
		log "backup of the archive appliance: $(secs "$t")"
		id=$(cat "$DIR/arch.id")
		cp "$W/march/system/backups/$id/$id.backup" "$DIR/arch.backup"
		echo "$stamp" > "$DIR/arch.stamp"
	else
		mount_fs "$DIR/arch" "$W/march"
	fi
	ARCH_ID=$(cat "$DIR/arch.id")
	# an interrupted workload 3 may have left it deleted
	[ -d "$W/march/system/backups/$ARCH_ID" ] || upload_archive
	ARCH_BYTES=$(stat -c %s "$DIR/arch.backup")
	log "archive $ARCH_ID: $ARCH_BYTES bytes"
}

# arch_file: the archive's file in the state directory (the one backup of
# the system scope of DIR/arch).
arch_file() {
	ls -S "$DIR"/arch/archives/*.backup | head -n 1
}

# BACKUPS backups of a one-user domain "small", each made through the
# mount like a user would (create, wait): the cheapest real way to a
# backups/ directory of 10,000 entries.
make_many() {
	local stamp="backups=$BACKUPS" i t
	if fresh_state many "$stamp"; then
		"$BACKUPCTL" --state "$DIR/many" domain create small >/dev/null
		"$BACKUPCTL" --state "$DIR/many" resource add --domain small \
			--type users --name alice >/dev/null
		mount_fs "$DIR/many" "$W/mmany"
		log "making $BACKUPS backups"
		t=$(now_us)
		for ((i = 0; i < BACKUPS; i++)); do
			printf '{}' > "$W/mmany/domains/small/backups/create"
			op_wait "$W/mmany"
		done
		log "$BACKUPS backups: $(secs "$(awk -v a="$t" -v b="$(now_us)" 'BEGIN { print (b - a) / 1e6 }')")"
		echo "$stamp" > "$DIR/many.stamp"
	else
		mount_fs "$DIR/many" "$W/mmany"
	fi
}
