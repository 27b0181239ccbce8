# sshd.sh - the SSH destination of the SCP tests: a user of their own and
# an openssh-server on 127.0.0.1 with its own sshd_config, host key, PidFile
# and ports.  Source it after lib.sh and bk_setup, as root:
#
#   . "$(dirname "$0")/sshd.sh"
#   bk_sshd_user        # U (the user), PW (its password), H (its home,
#                       # with .ssh/ and dest/, owned by U)
#   bk_sshd_start       # PORT: sshd listens there and on PORT+1, PORT+2;
#                       # HOSTKEY, OTHERKEY (a key sshd does not have)
#   bk_sshd_authorize "$(cat MOUNT/scp/public-key)"
#   conn NAME [FIELDS]  # a connection's JSON, to connections/scp/create
#   x=$(xfer NAME)      # a transfer of the backup at $B (its directory)
#   xfer_wait "$x"      # waits for its end; prints scp-status/$x.json
#
# The second port gives sessions a PATH ($D/bin) without stat(1), the third
# is SFTP refusing statvfs (docs/TESTING.md).  The EXIT trap stops sshd and
# removes the user, then runs lib.sh's clean-up; a test with more to undo
# defines bk_sshd_more_cleanup, run first.

U=bkscp$$
SSHD_PID=
D=$BK_TMP/sshd
H=$BK_TMP/home

bk__sshd_cleanup() {
	local rc=$?
	trap - ERR
	set +e		# a failing step must not skip the unmounts below
	[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
	declare -F bk_sshd_more_cleanup >/dev/null && bk_sshd_more_cleanup
	userdel -f "$U" 2>/dev/null	# -f: its sessions may not be gone yet
	(exit "$rc")
	bk__cleanup	# reads the test's exit status from $?
}
trap bk__sshd_cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

bk_sshd_user() {
	chmod 755 "$BK_TMP"
	useradd -M -d "$H" -s /bin/sh "$U"
	PW="pw-$RANDOM-$RANDOM"
	echo "$U:$PW" | chpasswd
	mkdir -p "$H/.ssh" "$H/dest"
	chown -R "$U:" "$H"
}

# bk_sshd_authorize LINE: LINE is the user's only authorized key.
bk_sshd_authorize() {
	echo "$1" > "$H/.ssh/authorized_keys"
	chown "$U:" "$H/.ssh/authorized_keys"
}

bk_sshd_start() {
	local port i j
	mkdir -p "$D/bin" /run/sshd
	for cmd in scp mv rm wc; do ln -s "$(command -v $cmd)" "$D/bin/$cmd"; done
	ssh-keygen -q -t ed25519 -N '' -f "$D/host_ed25519"
	ssh-keygen -q -t ed25519 -N '' -f "$D/other_ed25519"
	HOSTKEY=$(cat "$D/host_ed25519.pub")
	OTHERKEY=$(cat "$D/other_ed25519.pub")
	for ((i = 0; i < 20; i++)); do
		port=$((20000 + RANDOM % 40000))
		port_open "$port" || port_open $((port + 1)) ||
			port_open $((port + 2)) && continue
		cat > "$D/sshd_config" <<-EOF
		Port $port
		Port $((port + 1))
		Port $((port + 2))
		ListenAddress 127.0.0.1
		HostKey $D/host_ed25519
		PidFile $D/sshd.pid
		AllowUsers $U
		PubkeyAuthentication yes
		PasswordAuthentication yes
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		Subsystem sftp internal-sftp
		LogLevel VERBOSE
		# the second port: no stat(1), so the appliance cannot see the
		# free space before an SCP copy and learns it from the failure
		Match LocalPort $((port + 1))
		    SetEnv PATH=$D/bin
		# the third: SFTP that will not tell the free space either
		Match LocalPort $((port + 2))
		    ForceCommand internal-sftp -P statvfs,fstatvfs
		EOF
		/usr/sbin/sshd -f "$D/sshd_config" -D -e 2>>"$D/log" &
		SSHD_PID=$!
		for ((j = 0; j < 100; j++)); do
			port_open "$port" && { PORT=$port; return 0; }
			kill -0 "$SSHD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null
		SSHD_PID=
	done
	echo "cannot start sshd:" >&2
	cat "$D/log" >&2
	return 1
}

# bk_closed_port: prints a port nothing listens on.
bk_closed_port() {
	local p=$PORT
	while port_open "$p"; do p=$((20000 + RANDOM % 40000)); done
	echo "$p"
}

# conn NAME [EXTRA JSON FIELDS]: a valid connection's JSON: sshd's first
# port, U's dest/, the pinned host key (key authentication by default).
conn() {
	printf '{"name":"%s","host":"127.0.0.1","port":%s,"username":"%s","path_to":"%s","public_key":"%s"%s}' \
		"$1" "$PORT" "$U" "$H/dest" "$HOSTKEY" "${2:-}"
}

# xfer CONN: starts a transfer of the backup whose directory is $B through
# CONN; prints the transfer's id.
xfer() {
	local before after
	before=$(ls "$B/scp-status")
	bk_put "$B/scp" "{\"connection\":\"$1\"}"
	after=$(ls "$B/scp-status")
	comm -13 <(echo "$before") <(echo "$after") | sed 's/\.json$//'
}

# xfer_wait XID: waits (bounded, 120 s) for the end of transfer XID of $B;
# prints its record.
xfer_wait() {
	local i st
	for ((i = 0; i < 1200; i++)); do
		st=$(jq -r .status "$B/scp-status/$1.json")
		[ "$st" != "In Progress" ] && break
		sleep 0.1
	done
	cat "$B/scp-status/$1.json"
}
