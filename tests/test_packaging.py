"""The wheel: built from the source tree, installed into a fresh venv, ``rectify serve``
from an empty directory answers 200 on /readyz.

Kept fast and offline: the wheel is built without build isolation, and the fresh
venv gets its dependencies from this environment (a ``.pth`` to a folder of links
to everything installed here except rectify itself), so pip installs the wheel
with ``--no-index`` and still checks that every declared dependency is present.
"""

import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from app.settings import REPO_ROOT
from tests.processes import clean_env, free_port, start, stop, wait_ready

pytestmark = pytest.mark.packaging
SHIPPED = (
    "app/workflows/rectification.yaml",
    "app/migrations/env.py",
    "app/migrations/script.py.mako",
    "app/migrations/versions/0001_initial_schema.py",
)


def _build_wheel(tmp: Path) -> Path:
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(REPO_ROOT / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["--wheel-dir", str(tmp / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "dist").glob("rectify-*.whl")
    return wheel


def _dependencies_of_this_environment(tmp: Path) -> Path:
    """A folder of links to this environment's installed packages, rectify left out."""
    deps = tmp / "deps"
    deps.mkdir()
    for directory in map(Path, site.getsitepackages()):
        for entry in directory.iterdir():
            name = entry.name.lower()
            if name.startswith(("rectify", "__editable__", "app", "_virtualenv")) or name == "pip":
                continue
            if not (deps / entry.name).exists():
                (deps / entry.name).symlink_to(entry)
    return deps


def test_the_wheel_installs_into_a_fresh_venv_and_serves_from_an_empty_directory(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(SHIPPED) <= names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "zz_test_dependencies.pth").write_text(
        f"{_dependencies_of_this_environment(tmp_path)}\n"
    )
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "-q"]
        + [str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    env = clean_env()
    env.pop("PYTHONPATH", None)
    where = subprocess.run(
        [python, "-c", "import app; print(app.__file__)"], cwd=empty, env=env, capture_output=True
    )
    assert where.stdout.decode().startswith(purelib), where
    rectify = [str(env_dir / "bin" / "rectify")]
    version = subprocess.run(rectify + ["--version"], cwd=empty, env=env, capture_output=True)
    assert version.stdout.decode().startswith("rectify "), version

    port = free_port()
    server = start(["serve", "--port", str(port)], env, empty, tmp_path / "serve.log", rectify)
    try:
        wait_ready(f"http://127.0.0.1:{port}", server)
    finally:
        status = stop(server)
    assert status == 0, (tmp_path / "serve.log").read_text()
    assert (empty / "rectify.db").exists()
