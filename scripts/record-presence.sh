#!/bin/sh
# Records the presence tests' SIP traffic (sipp watchers, IM subscriber, daemon) with dumpcap into
# captures/presence/ and checks with tshark that every NOTIFY and MESSAGE body decodes without a
# malformed-packet or expert warning (the test itself asserts it). Needs dumpcap rights on lo.
set -eu
cd "$(dirname "$0")/.."
out="$PWD/captures/presence"
mkdir -p "$out"
PRESENCE_CAPTURE_DIR="$out" npx tap --disable-coverage test/presence/presence-sim.test.ts
for f in "$out"/*.pcapng; do
  echo "== $f"
  tshark -r "$f" -Y 'sip.Method == "NOTIFY" || sip.Method == "MESSAGE"' -T fields \
    -e frame.number -e sip.Method -e sip.Content-Type -e _ws.malformed -e _ws.expert
done
