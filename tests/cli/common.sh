# Shared by the CLI test scripts: a scratch folder removed on exit (kept with TRM_KEEP_WORK=1), pass/fail counting and the
# summary line. Usage: source "$(dirname "$0")/common.sh" NAME  (sets $work)
work=$(mktemp -d "/tmp/trm_$1.XXXXXX")
trap '[ -n "${TRM_KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  echo "FAIL: $*"
}
# Prints "N passed, M failed"; exit status 0 only when nothing failed.
summary() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
