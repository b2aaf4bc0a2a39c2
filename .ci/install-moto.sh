#!/usr/bin/env bash
# moto_server (moto 5.2, an S3 server in Python) for the S3 tests (test/support/moto.ts starts its
# own instance on a free loopback port). The machine image has it; elsewhere it comes from PyPI.
# Does nothing when moto_server is present.
set -euo pipefail
command -v moto_server >/dev/null && exit 0
for pip in pip3 pip; do
  if command -v "$pip" >/dev/null; then
    "$pip" install --quiet 'moto[server]==5.2.1' && command -v moto_server >/dev/null && exit 0
  fi
done
echo "install-moto: moto_server is missing and could not be installed (pip install 'moto[server]==5.2.1'); the S3 tests fail under CI=true" >&2
exit 1
