"""compose.yaml and the docs tell the truth about how the project starts and is configured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
OUR_SERVICES = {name: spec for name, spec in COMPOSE["services"].items() if spec.get("build")}


def test_compose_runs_our_three_kinds_of_process() -> None:
    commands = {tuple(spec["command"][:3]) for spec in OUR_SERVICES.values()}
    assert commands == {("python", "-m", "rules_service"), ("python", "-m", "action_service")}
    assert any("--worker-only" in spec["command"] for spec in OUR_SERVICES.values())
    assert any("--no-worker" in spec["command"] for spec in OUR_SERVICES.values())


@pytest.mark.parametrize("name", sorted(OUR_SERVICES))
def test_each_command_is_one_the_module_accepts(name: str) -> None:
    command: list[str] = OUR_SERVICES[name]["command"]
    module = command[2]
    result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    for flag in (part for part in command[3:] if part.startswith("--")):
        assert flag in result.stdout, f"{name}: {module} does not know {flag}"


@pytest.mark.parametrize("name", sorted(OUR_SERVICES))
def test_each_variable_is_a_setting(name: str) -> None:
    environment: dict[str, Any] = OUR_SERVICES[name]["environment"]
    fields = {f"RUNBOOK_{field.upper()}" for field in Settings.model_fields}
    assert set(environment) <= fields, set(environment) - fields
    assert "RUNBOOK_DATABASE_URL" in environment and "RUNBOOK_REDIS_URL" in environment


def test_the_image_holds_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("tables", "runbook", "rules_service", "action_service", "connectors"):
        assert f"COPY {package} ./{package}" in dockerfile


def test_configuration_doc_is_current() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from settings_doc import render

    assert (ROOT / "docs" / "configuration.md").read_text() == render(), (
        "run: python scripts/settings_doc.py > docs/configuration.md"
    )
    assert all(field.description for field in Settings.model_fields.values()), [
        name for name, field in Settings.model_fields.items() if not field.description
    ]
