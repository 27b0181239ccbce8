# softhsm.sh - SoftHSM2 tokens of the test's own, in BK_TMP (docs/TESTING.md).
# Source it after lib.sh and bk_setup:
#
#   . "$(dirname "$0")/softhsm.sh"      # SOFTHSM2_CONF, exported
#   bk_softhsm_token bk-test 1234       # a token labelled bk-test, PIN 1234
#
# The tokens live in $BK_TMP/tokens, removed with BK_TMP at exit.

export SOFTHSM2_CONF=$BK_TMP/softhsm2.conf
mkdir -p "$BK_TMP/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$BK_TMP/tokens" > "$SOFTHSM2_CONF"

# bk_softhsm_token LABEL PIN: initialises a free slot's token.
bk_softhsm_token() {
	softhsm2-util --init-token --free --label "$1" --pin "$2" --so-pin 5678 >/dev/null
}
