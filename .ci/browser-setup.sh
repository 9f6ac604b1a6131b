#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the demo's browser tests
# (crates/sessionkit-cli/tests/browser) when either is missing. Idempotent and quiet: when
# both are installed it only prints their versions. The browser tests find them at
# /usr/bin/chromium and /usr/bin/chromedriver (or SESSIONKIT_CHROMIUM / SESSIONKIT_CHROMEDRIVER).
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if ! have chromium || ! have chromedriver; then
  echo "browser-setup: installing chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

chromium --version
chromedriver --version
