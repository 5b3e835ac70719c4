#!/usr/bin/env bash
# Installs the Debian packages that build_apk.sh needs (run as root on Debian 12 "bookworm"):
#   bookworm: aapt, zipalign, apksigner, a JDK (javac, keytool)
#   bullseye: libandroid-23-java (android.jar, API 23) and dalvik-exchange (the dx dexer);
#             bookworm dropped both, so bullseye's archive is added at a low pin priority
#             (100) so that nothing else is ever taken from it.
# Exits non-zero with one line on stderr when a package cannot be installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" != 0 ]; then echo "install_build_tools.sh: needs root (apt-get)" >&2; exit 1; fi
if ! grep -qs bullseye /etc/apt/sources.list.d/edgelite-bullseye.list; then
  echo "deb http://deb.debian.org/debian bullseye main" > /etc/apt/sources.list.d/edgelite-bullseye.list
  printf 'Package: *\nPin: release n=bullseye\nPin-Priority: 100\n' > /etc/apt/preferences.d/edgelite-bullseye
fi
apt-get update -qq >/dev/null || { echo "apt-get update failed" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends aapt zipalign apksigner default-jdk-headless >/dev/null \
  || { echo "could not install aapt/zipalign/apksigner/JDK from bookworm" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends -t bullseye libandroid-23-java dalvik-exchange >/dev/null \
  || { echo "could not install libandroid-23-java/dalvik-exchange from bullseye" >&2; exit 1; }
echo "Android build tools installed"
