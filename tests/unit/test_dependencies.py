"""No installed dependency is older than a version known to be broken or unsafe.

The floors are the lower bounds pyproject.toml declares, plus floors of packages we use through
others (the HTTP stack of the Telegram client). constraints.txt, which `make` installs with, must
pin every declared package at or above its floor.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PROJECT = Path(__file__).resolve().parents[2]
# Known-fixed versions of packages we do not declare but run: httpx's HTTP/1.1 parser
# (CVE-2025-43859, request smuggling) and IDNA decoding (CVE-2024-3651, denial of service).
INDIRECT_FLOORS = {"h11": "0.16.0", "idna": "3.7"}


def declared() -> list[Requirement]:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(name) for name in names]


def floors() -> dict[str, Version]:
    found = {name: Version(value) for name, value in INDIRECT_FLOORS.items()}
    for requirement in declared():
        for spec in requirement.specifier:
            if spec.operator in (">=", "=="):
                found[requirement.name.lower()] = Version(spec.version)
    return found


def pinned() -> dict[str, Version]:
    lines = (PROJECT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = [line.split("==") for line in lines if "==" in line and not line.startswith("#")]
    return {name.strip().lower().replace("_", "-"): Version(value) for name, value in pins}


@pytest.mark.parametrize(("name", "floor"), sorted(floors().items()))
def test_the_installed_version_is_not_below_its_floor(name: str, floor: Version) -> None:
    try:
        installed = Version(version(name))
    except PackageNotFoundError:
        pytest.fail(f"{name} is not installed")
    assert installed >= floor, f"{name} {installed} is below {floor}"


def test_the_security_floors_are_declared() -> None:
    assert floors()["aiohttp"] >= Version("3.12.14")
    assert floors()["aiosmtpd"] >= Version("1.4.6")


def test_constraints_pin_every_declared_package_at_or_above_its_floor() -> None:
    pins = pinned()
    for name, floor in floors().items():
        key = name.replace("_", "-")
        assert key in pins, f"constraints.txt does not pin {name}"
        assert pins[key] >= floor, f"constraints.txt pins {name} {pins[key]}, below {floor}"
