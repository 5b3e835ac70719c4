#!/usr/bin/env bash
# Builds and verifies the launcher APK offline from Debian's Android tools:
#   aapt (package + manifest), javac (against android.jar API 23), dx (dalvik-exchange),
#   zipalign, apksigner (with a throwaway key made by keytool).
# Usage: android_demo/launcher/build_apk.sh [OUTPUT_DIR]   (default android_demo/launcher/build)
# Install the tools with install_build_tools.sh (root, Debian 12 + bullseye for android.jar/dx).
# Verification: apksigner verify, zipalign -c 4, aapt dump badging (package, SDK levels,
# launchable activity). Exits non-zero, with one line on stderr, when a step fails.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$(mkdir -p "${1:-$HERE/build}" && cd "${1:-$HERE/build}" && pwd)"
ANDROID_JAR="${ANDROID_JAR:-/usr/lib/android-sdk/platforms/android-23/android.jar}"
DX="$(command -v dalvik-exchange || command -v dx || true)"
for tool in aapt zipalign apksigner javac keytool; do
  command -v "$tool" >/dev/null || { echo "build_apk.sh: $tool not found (run install_build_tools.sh)" >&2; exit 3; }
done
[ -n "$DX" ] || { echo "build_apk.sh: no dexer (dalvik-exchange/dx) found (run install_build_tools.sh)" >&2; exit 3; }
[ -f "$ANDROID_JAR" ] || { echo "build_apk.sh: $ANDROID_JAR not found (libandroid-23-java)" >&2; exit 3; }

rm -rf "$OUT/classes" "$OUT"/*.apk "$OUT/classes.dex"
mkdir -p "$OUT/classes"
javac -source 8 -target 8 -Xlint:-options -bootclasspath "$ANDROID_JAR" -d "$OUT/classes" \
  $(find "$HERE/src" -name '*.java')
"$DX" --dex --min-sdk-version=23 --output="$OUT/classes.dex" "$OUT/classes"
aapt package -f -M "$HERE/AndroidManifest.xml" -S "$HERE/res" -I "$ANDROID_JAR" -F "$OUT/unaligned.apk"
(cd "$OUT" && aapt add unaligned.apk classes.dex >/dev/null)
zipalign -f 4 "$OUT/unaligned.apk" "$OUT/aligned.apk"
if [ ! -f "$OUT/debug.keystore" ]; then
  keytool -genkeypair -keystore "$OUT/debug.keystore" -storepass android -keypass android -alias demo \
    -keyalg RSA -keysize 2048 -validity 10000 -dname "CN=edgelite demo (unofficial)" >/dev/null 2>&1
fi
apksigner sign --ks "$OUT/debug.keystore" --ks-pass pass:android --key-pass pass:android --ks-key-alias demo \
  --out "$OUT/edgelite-demo.apk" "$OUT/aligned.apk"
rm -f "$OUT/unaligned.apk" "$OUT/aligned.apk" "$OUT/edgelite-demo.apk.idsig"

APK="$OUT/edgelite-demo.apk"
apksigner verify --verbose --min-sdk-version 23 "$APK" > "$OUT/apksigner-verify.txt"
zipalign -c 4 "$APK"
aapt dump badging "$APK" > "$OUT/badging.txt"
grep -q "^package: name='org.edgelite.demo'" "$OUT/badging.txt"
grep -q "^sdkVersion:'23'" "$OUT/badging.txt"
grep -q "^targetSdkVersion:'34'" "$OUT/badging.txt"
grep -q "^launchable-activity: name='org.edgelite.demo.MainActivity'" "$OUT/badging.txt"
grep -q "^uses-permission: name='com.termux.permission.RUN_COMMAND'" "$OUT/badging.txt"
grep -q "^application-label:'edgelite demo'" "$OUT/badging.txt"
aapt list "$APK" | grep -qx "classes.dex"
echo "APK built and verified: $APK ($(stat -c %s "$APK") bytes)"
grep "Verified using" "$OUT/apksigner-verify.txt" | sed 's/^/  /'
