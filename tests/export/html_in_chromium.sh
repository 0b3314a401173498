#!/usr/bin/env bash
# The HTML report in a real browser (Debian's chromium, headless): the DOM chromium builds holds
# the tables, the grid's heat map with its OOM cells and every trial's learning curves; a
# screenshot is taken; and the page makes no network request. The last check reads chromium's
# net log for requests the page initiated (chromium's own background requests have no origin);
# a control page with one remote image proves the check sees a request when there is one.
# Usage: html_in_chromium.sh PATH/TO/trm-sweep PATH/TO/export_sample_writer
set -u
bin=$1
writer=$2
source "$(dirname "$0")/../cli/common.sh" export_html
browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
  echo "FAIL: chromium is not installed (scripts/setup.sh installs it)"
  exit 1
fi
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run)
"$writer" grid "$work/grid.h5" || exit 1
"$bin" export "$work/grid.h5" --format html -o "$work/report.html" || exit 1

# Requests a page initiated, one URL a line, from a chromium net log.
page_requests() {
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
for e in log["events"]:
    p = e.get("params", {})
    # The job's start carries url and initiator; its end only the result.
    if names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in p and p.get("initiator") != "not an origin":
        url = p["url"]
        if not url.startswith(("file:", "data:", "about:", "chrome:")):
            print(url)
PY
  [ $? -eq 0 ] || echo "unreadable net log $1"  # a broken check must not pass
}

run_browser() {  # run_browser PAGE NETLOG [more flags]: the DOM on stdout
  local page=$1 netlog=$2
  shift 2
  timeout 120 "$browser" "${flags[@]}" --user-data-dir="$work/profile-$RANDOM" \
    --log-net-log="$netlog" "$@" "file://$page" 2>>"$work/chromium.log"
}

run_browser "$work/report.html" "$work/net.json" --dump-dom >"$work/dom.html"
count() { grep -o "$1" "$work/dom.html" | wc -l; }
[ "$(count '<table class="trm"')" -eq 4 ] && ok || fail "DOM: $(count '<table class="trm"') tables, expected 4 (2 grids, ablation, raw)"
[ "$(count '<svg class="heatmap"')" -eq 2 ] && ok || fail "DOM: $(count '<svg class="heatmap"') heat maps, expected 2"
[ "$(count '<rect class="cell oom"')" -eq 2 ] && ok || fail "DOM: $(count '<rect class="cell oom"') OOM cells, expected 2"
[ "$(count '<svg class="curve"')" -eq 8 ] && ok || fail "DOM: $(count '<svg class="curve"') learning curves, expected 8 (one per trial)"
[ "$(count '<polyline class="series"')" -eq 20 ] && ok || fail "DOM: $(count '<polyline class="series"') curves, expected 20 (5 per finished trial: the sample is an ARC sweep, so pass@2 too)"
[ "$(count 'data-series="eval pass@2"')" -eq 4 ] && ok || fail "DOM: $(count 'data-series="eval pass@2"') pass@2 curves, expected 4"
grep -q "<td>git_revision</td><td>abc1234</td>" "$work/dom.html" && ok || fail "DOM: no provenance"
grep -Eq 'https?://' "$work/report.html" && fail "the report names a URL: $(grep -Eo 'https?://[^"]*' "$work/report.html" | head -1)" || ok

requests=$(page_requests "$work/net.json")
[ -s "$work/net.json" ] && [ -z "$requests" ] && ok || fail "the report made network requests: $requests"
printf '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/pixel.png"></body></html>' >"$work/control.html"
run_browser "$work/control.html" "$work/control.json" --dump-dom >/dev/null
[[ "$(page_requests "$work/control.json")" == *"127.0.0.1:9/pixel.png"* ]] && ok ||
  fail "the net log check does not see the control page's request"

shot="${TRM_EXPORT_SCREENSHOT:-$work/report.png}"
run_browser "$work/report.html" "$work/shot.json" --screenshot="$shot" --window-size=1200,1600 \
  --hide-scrollbars >/dev/null
# A page of tables and charts compresses far worse than a blank one (~5 KB).
size=$(stat -c %s "$shot" 2>/dev/null || echo 0)
[ "$(head -c 4 "$shot" | tail -c 3)" = "PNG" ] && [ "$size" -gt 30000 ] && ok ||
  fail "screenshot $shot: $size bytes"
echo "screenshot: $shot ($size bytes)"
summary
