#!/usr/bin/env python3
"""Build Unicorn 2.1.4 from its PyPI sdist with npuemu's patches and install it into a venv.

Why: Unicorn 2.1.4 has no RISC-V trap entry, masks mip, takes a slow path on every store and
mis-decodes rv32 PMP entries (toolchain/unicorn/README.md lists each patch).  The result is a
wheel versioned ``2.1.4+npuemu.<key>``, where ``<key>`` hashes the sdist and the patches; it is
cached under ``$XDG_CACHE_HOME/npuemu/unicorn`` (default ``~/.cache``), so only the first
``make setup`` on a machine compiles (~1 min on 2 cores), later ones reinstall or do nothing.

Stdlib only.  Usage: ``build.py --python .venv/bin/python``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "2.1.4"
HERE = Path(__file__).resolve().parent
PATCHES = sorted((HERE / "patches").glob("*.patch"))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "npuemu" / "unicorn"


def run(cmd: list[str], **kw) -> None:
    try:
        subprocess.run(cmd, check=True, **kw)
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"unicorn build: `{' '.join(map(str, cmd))}` failed: {e}")


def fetch_sdist(python: str, cache: Path) -> Path:
    found = sorted((cache / "sdist").glob(f"unicorn-{VERSION}.tar.gz"))
    if found:
        return found[0]
    (cache / "sdist").mkdir(parents=True, exist_ok=True)
    run([python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-binary", ":all:", f"unicorn=={VERSION}", "-d", str(cache / "sdist")])
    found = sorted((cache / "sdist").glob(f"unicorn-{VERSION}.tar.gz"))
    if not found:
        sys.exit(f"unicorn build: pip did not download unicorn-{VERSION}.tar.gz")
    return found[0]


def cache_key(sdist: Path) -> str:
    h = hashlib.sha256(sdist.read_bytes())
    for patch in PATCHES:
        h.update(patch.name.encode())
        h.update(patch.read_bytes())
    return h.hexdigest()[:12]


def installed_version(python: str) -> str | None:
    out = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('unicorn'))"],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def build_wheel(python: str, sdist: Path, version: str, out: Path) -> Path:
    for tool in ("cmake", "make", "cc", "patch"):
        if shutil.which(tool) is None:
            sys.exit(f"unicorn build: `{tool}` not found (make setup installs it with apt-get)")
    with tempfile.TemporaryDirectory(prefix="npuemu-unicorn-") as tmp:
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter="data")
        root = Path(tmp) / f"unicorn-{VERSION}"
        for patch in PATCHES:
            run(["patch", "-s", "-p1", "-i", str(patch)], cwd=root)
        build = root / "build-riscv"
        jobs = str(min(os.cpu_count() or 2, 4))
        run(["cmake", "-S", str(root / "src"), "-B", str(build), "-DUNICORN_ARCH=riscv",
             "-DCMAKE_BUILD_TYPE=Release", "-DUNICORN_BUILD_TESTS=off"], stdout=subprocess.DEVNULL)
        run(["cmake", "--build", str(build), "-j", jobs], stdout=subprocess.DEVNULL)
        # setup.py packages a library found in prebuilt/ instead of building all architectures.
        for lib in ("libunicorn.so.2", "libunicorn.a"):
            shutil.copy(build / lib, root / "prebuilt" / lib)
        env = dict(os.environ, SETUPTOOLS_SCM_PRETEND_VERSION=version)
        out.mkdir(parents=True, exist_ok=True)
        run([python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
             "-w", str(out), str(root)], env=env)
    wheels = sorted(out.glob("unicorn-*.whl"))
    if not wheels:
        sys.exit("unicorn build: pip wheel produced no wheel")
    return wheels[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the venv's python to install into")
    parser.add_argument("--print-key", action="store_true", help="print the cache key and exit")
    args = parser.parse_args()
    cache = cache_dir()
    sdist = fetch_sdist(args.python, cache)
    key = cache_key(sdist)
    version = f"{VERSION}+npuemu.{key}"
    if args.print_key:
        print(key)
        return
    if installed_version(args.python) == version:
        return
    wheel_dir = cache / "wheels" / key
    wheels = sorted(wheel_dir.glob("unicorn-*.whl"))
    if not wheels:
        print(f"building patched Unicorn {version} (riscv only, first time on this machine)", flush=True)
        wheels = [build_wheel(args.python, sdist, version, wheel_dir)]
    run([args.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--force-reinstall", str(wheels[0])])


if __name__ == "__main__":
    main()
