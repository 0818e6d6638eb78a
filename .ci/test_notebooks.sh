#!/usr/bin/env bash
# Run every notebook's tests with nbdev_test (cells flagged `slow` are skipped, see tst_flags in settings.ini)
# and close with one line `N passed, N failed` counting notebooks.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH" MPLBACKEND=Agg
log=$(mktemp); err=$(mktemp)
nbdev_test --do_print --timing "$@" > >(tee "$log") 2> >(tee "$err" >&2)
rc=$?
wait
total=$(grep -c '^- Completed ' "$log")
failed=$(awk '/Failed On The Following Notebooks/{f=1; next} f && /^\t/{n++} END{print n+0}' "$err")
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$total" -eq 0 ] && [ "$rc" -eq 0 ]; then echo "no notebook was tested"; rc=1; fi
rm -f "$log" "$err"
echo "$((total - failed)) passed, $failed failed"
exit $rc
