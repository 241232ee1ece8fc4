#!/usr/bin/env bash
# The Debian packages the project runs for real: Prometheus (with promtool) and Alertmanager
# (with amtool), for the rule and alerting tests and for `make run`, and Chromium, which opens the
# period report's HTML headless in tests/integration/test_report_browser.py. Installs what is missing
# with apt-get (as root, or through passwordless sudo); does nothing when all are there.
set -euo pipefail

need=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null \
  || need+=(prometheus-alertmanager)
command -v chromium >/dev/null || need+=(chromium)
[[ ${#need[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "packages.sh: needs the Debian packages ${need[*]}; install them (apt-get install" \
       "${need[*]}) or run make setup as root" >&2
  exit 1
fi
echo "packages.sh: installing ${need[*]} with apt-get"
# The packages' services are not wanted: the project starts its own Prometheus and Alertmanager
# on its own ports. policy-rc.d keeps the postinst scripts from starting them.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  added_policy=1
fi
trap '[[ $added_policy == 1 ]] && "${as_root[@]}" rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
command -v promtool >/dev/null && command -v amtool >/dev/null && command -v chromium >/dev/null
