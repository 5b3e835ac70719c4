"""The launcher APK builds offline from Debian's Android tools and verifies.

Skipped (with the reason) where the tools are not installed; .ci/run installs them with
android_demo/launcher/install_build_tools.sh and prints "APK not built: <reason>" when it
cannot. Nothing here can run the APK: that needs a phone (docs/android.md).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "android_demo" / "launcher" / "build_apk.sh"
TOOLS = ["aapt", "zipalign", "apksigner", "javac", "keytool"]


def test_apk_builds_and_verifies(tmp_path):
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not (shutil.which("dalvik-exchange") or shutil.which("dx")):
        missing.append("dalvik-exchange")
    if not Path("/usr/lib/android-sdk/platforms/android-23/android.jar").exists():
        missing.append("android.jar (libandroid-23-java)")
    if missing:
        pytest.skip(f"APK build tools not installed ({', '.join(missing)}): run android_demo/launcher/install_build_tools.sh")
    res = subprocess.run(["bash", str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "APK built and verified" in res.stdout
    badging = (tmp_path / "badging.txt").read_text()
    assert "package: name='org.edgelite.demo'" in badging and "sdkVersion:'23'" in badging
    verify = (tmp_path / "apksigner-verify.txt").read_text()
    assert "Verified using v2 scheme (APK Signature Scheme v2): true" in verify
    # zipalign -c fails on an APK that is not aligned: the check is real
    broken = tmp_path / "broken.apk"
    subprocess.run(["python3", "-c", f"""
import zipfile
src = zipfile.ZipFile({str(tmp_path / 'edgelite-demo.apk')!r})
with zipfile.ZipFile({str(broken)!r}, 'w') as z:
    z.writestr('x', b'1')  # shifts every later entry by an odd amount
    for i in src.infolist():
        z.writestr(i, src.read(i), compress_type=i.compress_type)
"""], check=True)
    assert subprocess.run(["zipalign", "-c", "4", str(broken)], capture_output=True).returncode != 0
