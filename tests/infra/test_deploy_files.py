"""azure.yaml, the GitHub deploy workflow and .funcignore say what docs/deploy.md says they do.

YAML is read with the IaC venv's PyYAML (the app's venv has none); without .venv-iac these tests skip.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IAC_PYTHON = ROOT / ".venv-iac" / "bin" / "python"
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"


def _yaml(path: Path) -> dict:
    if not IAC_PYTHON.exists():
        pytest.skip(".venv-iac is missing: run infra/setup-iac-venv.sh (make test does)")
    code = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))))"
    done = subprocess.run([str(IAC_PYTHON), "-c", code, str(path)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _steps(job: dict) -> list[dict]:
    return job["steps"]


def test_azure_yaml_deploys_the_repository_root_as_a_python_function_app():
    spec = _yaml(ROOT / "azure.yaml")
    assert spec["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert spec["services"] == {"app": {"project": ".", "language": "python", "host": "function"}}
    assert (ROOT / "host.json").is_file() and (ROOT / "function_app.py").is_file()
    assert "'azd-service-name': 'app'" in (ROOT / "infra" / "modules" / "functionapp.bicep").read_text(encoding="utf-8")


def test_funcignore_keeps_non_app_files_out_of_the_package():
    ignored = set((ROOT / ".funcignore").read_text(encoding="utf-8").split())
    assert {"infra", "tests", "docs", "azure.yaml", ".github", ".venv", ".venv-iac", "local.settings.json"} <= ignored


def test_workflow_builds_tests_then_deploys_with_oidc_and_flex_settings():
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "${{ secrets." not in text, "no stored secrets: OIDC login with identifiers from variables"
    flow = _yaml(WORKFLOW)
    jobs = flow["jobs"]
    assert flow.get("permissions") == {"contents": "read"}
    assert any(s.get("run") == "make test" for s in _steps(jobs["build"]))
    deploy = jobs["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["permissions"]["id-token"] == "write"
    login = next(s for s in _steps(deploy) if str(s.get("uses", "")).startswith("azure/login@"))
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
    assert all(v.startswith("${{ vars.") for v in login["with"].values())
    action = next(s for s in _steps(deploy) if str(s.get("uses", "")).startswith("Azure/functions-action@"))
    assert action["with"]["sku"] == "flexconsumption"
    assert action["with"]["remote-build"] is True
    assert action["with"]["package"] == "."
    assert not {"scm-do-build-during-deployment", "enable-oryx-build", "publish-profile"} & set(action["with"])
