# scripts/deps.sh - the Debian packages backupfs needs, and how the set-up
# scripts install the missing ones.  Sourced by examples/demo.sh and
# tests/run.sh; not run on its own.

# To build and run backupfs.
BK_BUILD_PACKAGES=(build-essential cmake pkg-config libfuse3-dev fuse3
	libssl-dev libsqlite3-dev sqlite3 libjson-c-dev libp11-kit-dev
	libssh-dev rsync jq tar)
# In addition, to run every test.  clang-14 and libclang-rt-14-dev (which
# holds libFuzzer: -fsanitize=fuzzer) build the fuzz targets; llvm-14 gives
# llvm-symbolizer for their stack traces; valgrind checks the unit tests.
# softhsm2 and opensc (pkcs11-tool) give the tests a PKCS#11 token;
# openssh-server is the SCP/SFTP peer the tests start on loopback.
BK_TEST_PACKAGES=(rclone softhsm2 opensc p11-kit valgrind groff-base man-db
	clang-14 libclang-rt-14-dev llvm-14 openssh-server openssh-client)

bk_installed() {
	local s
	s=$(dpkg -s "$1" 2>/dev/null) || return 1
	[[ $s == *"Status: install ok installed"* ]]
}

# bk_install_missing PACKAGE...: apt-get installs those not installed yet
# (apt-get update first, once); needs root when something is missing.
bk_install_missing() {
	local p missing=()
	for p in "$@"; do
		bk_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]}: run as root, or install them first" >&2
		exit 1
	fi
	echo "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
}
