"""The app's binding contract: exactly these functions, triggers, queues and settings (read from the app)."""

from __future__ import annotations

import ast
from pathlib import Path

import function_app
from localdev.funchost import functions_of
from shared import config, defaults

ROOT = Path(__file__).resolve().parents[2]
# Through the host's cache: azure-functions 1.x raises on a second get_functions() call for one app.
FUNCTIONS = {f.get_function_name(): f for f in functions_of(function_app.app)}


def test_app_lists_exactly_the_five_functions_with_their_triggers():
    triggers = {name: f.get_trigger().type for name, f in FUNCTIONS.items()}
    assert triggers == {
        "poll_cloudsuite": "timerTrigger",
        "transform_records": "queueTrigger",
        "write_dataverse": "queueTrigger",
        "replay_deadletter_http": "httpTrigger",
        "replay_deadletter_timer": "timerTrigger",
    }


def test_queue_triggers_listen_on_the_pages_and_writes_queues_never_on_poison():
    queues = {name: f.get_trigger().queue_name for name, f in FUNCTIONS.items()
              if f.get_trigger().type == "queueTrigger"}
    assert queues == {"transform_records": defaults.PAGES_QUEUE, "write_dataverse": defaults.WRITES_QUEUE}
    assert not any(q.endswith(defaults.POISON_SUFFIX) for q in queues.values())
    assert {f.get_trigger().connection for n, f in FUNCTIONS.items() if n in queues} == {"AzureWebJobsStorage"}


def test_timers_take_their_schedules_from_app_settings():
    assert FUNCTIONS["poll_cloudsuite"].get_trigger().schedule == f"%{config.POLL_SCHEDULE}%"
    assert FUNCTIONS["replay_deadletter_timer"].get_trigger().schedule == f"%{config.REPLAY_SCHEDULE}%"
    assert not FUNCTIONS["poll_cloudsuite"].get_trigger().run_on_startup


def test_replay_http_trigger_needs_a_function_key():
    trigger = FUNCTIONS["replay_deadletter_http"].get_trigger()
    assert str(trigger.auth_level.value).lower() == "function"
    assert trigger.route == "replay"
    assert [str(m.value) for m in trigger.methods] == ["POST"]


def test_each_function_folder_is_a_thin_adapter():
    """Adapters decode, call shared/ and encode; logic lives in shared/ (a few statements per function)."""
    for folder in ("poll_cloudsuite", "transform_records", "write_dataverse", "replay_deadletter"):
        tree = ast.parse((ROOT / folder / "__init__.py").read_text())
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert functions, folder
        for fn in functions:
            assert len(fn.body) <= 6, f"{folder}.{fn.name} has {len(fn.body)} statements: move logic to shared/"
        assert f"{folder}_bp" in {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                                   if isinstance(t, ast.Name)}


def test_shared_never_imports_azure_functions():
    offenders = []
    for path in (ROOT / "shared").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("azure.functions")]
    assert offenders == []


def test_funcignore_keeps_dev_tooling_out_of_the_package():
    ignored = set((ROOT / ".funcignore").read_text().split())
    assert {"tests", "localdev", "bench", "infra", "docs", ".venv", "local.settings.json", "node_modules"} <= ignored
    assert "shared" not in ignored and "function_app.py" not in ignored


def test_requirements_are_runtime_only_and_keep_azure_functions_1x():
    runtime = (ROOT / "requirements.txt").read_text()
    assert "azure-functions>=1.26,<2" in runtime
    for dev_only in ("pytest", "ruff", "trustme", "croniter", "azure-functions-worker", "powerplatform"):
        assert dev_only not in runtime
