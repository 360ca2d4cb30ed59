"""What a non-editable install (`pip install emoedge[rpi]` on a device) gets. The
editable install the tests run on resolves every folder, so a new subpackage left out
of pyproject's explicit `packages`, or a model file outside `package-data`, would be
missing only on devices."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def _folder(package: str, package_dir: dict[str, str]) -> Path:
    """The source folder of a dotted package under setuptools' package-dir mapping."""
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        root = ".".join(parts[:cut])
        if root in package_dir:
            return REPO / package_dir[root] / Path(*parts[cut:])
    raise AssertionError(f"{package}: no package-dir entry")


def test_every_package_folder_is_listed_and_every_listed_one_exists():
    config = _setuptools()
    listed = set(config["packages"])
    found = set()
    for dotted, folder in config["package-dir"].items():
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / folder)
            found.add(".".join([dotted, *relative.parts]))
    data_only = {
        p for p in listed if not (_folder(p, config["package-dir"]) / "__init__.py").exists()
    }
    assert found == listed - data_only, (found - listed, listed - found - data_only)
    assert all(_folder(p, config["package-dir"]).is_dir() for p in data_only), data_only


def test_every_model_and_asset_file_is_package_data():
    config = _setuptools()
    for package in config["packages"]:
        folder = _folder(package, config["package-dir"])
        patterns = config.get("package-data", {}).get(package, [])
        for path in folder.iterdir():
            if path.is_file() and path.suffix not in (".py", ".pyc"):
                assert any(fnmatch.fnmatch(path.name, p) for p in patterns), (
                    f"{path.relative_to(REPO)} is not in package-data for {package}"
                )


def test_every_data_file_in_the_sources_ships():
    """A data-only folder (no __init__.py, like the FER+ sample's `toolkit/data/assets/`)
    is invisible to the test above until it is listed: here every non-Python file under
    the package folders must be in a listed package and match its package-data."""
    config = _setuptools()
    folders = {_folder(p, config["package-dir"]): p for p in config["packages"]}
    for root in {REPO / folder for folder in config["package-dir"].values()}:
        for path in root.rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            package = folders.get(path.parent)
            assert package is not None, f"{path.relative_to(REPO)}: its folder is no listed package"
            patterns = config.get("package-data", {}).get(package, [])
            assert any(fnmatch.fnmatch(path.name, p) for p in patterns), (
                f"{path.relative_to(REPO)} is not in package-data for {package}"
            )
