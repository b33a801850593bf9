"""Offline gate for the Bicep templates: syntax (tree-sitter-bicep) and policy (checkov), run from .venv-iac.

    infra/setup-iac-venv.sh && .venv-iac/bin/python infra/validate.py [--json]

Fails (exit 1) when
- a .bicep file under infra/ has a syntax error (tree-sitter-bicep 1.1.0),
- a loadTextContent() file is missing,
- a parameters file (*.bicepparam, main.parameters.json) sets a parameter main.bicep does not declare or misses one
  it requires (tree-sitter-bicep has no .bicepparam grammar, so those get this name-level check),
- checkov reports a parsing error (it exits 0 on files it cannot parse, so the JSON summary is the gate) or a
  failed check, or a skipped check in infra/.checkov.yaml has no one-line justification.
No Bicep compiler exists offline: `bicep build`/`lint` run in .github/workflows/deploy.yml, `what-if` before each
deployment (docs/deploy.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

INFRA = Path(__file__).resolve().parent
CHECKOV_CONFIG = INFRA / ".checkov.yaml"
_SKIP_LINE = re.compile(r"^\s*-\s*(CKV2?_[A-Z]+_\d+)\s*(?:#\s*(.*))?$")


MAIN = INFRA / "main.bicep"
_PARAM_DECL = re.compile(r"^param\s+(\w+)\s+\w+(\s*=.*)?$", re.MULTILINE)
_PARAM_SET = re.compile(r"^param\s+(\w+)\s*=", re.MULTILINE)
_USING = re.compile(r"^using\s+'([^']+)'", re.MULTILINE)


def bicep_files() -> list[Path]:
    return sorted(p for p in INFRA.rglob("*.bicep") if p.is_file())


def parameter_files() -> list[Path]:
    return sorted([*INFRA.rglob("*.bicepparam"), *INFRA.glob("*.parameters.json")])


def main_parameters() -> tuple[set[str], set[str]]:
    """(all, required) parameter names of main.bicep; required = declared without a default."""
    text = MAIN.read_text(encoding="utf-8")
    declared = {m.group(1): m.group(2) is None for m in _PARAM_DECL.finditer(text)}
    return set(declared), {name for name, required in declared.items() if required}


def parameter_file_errors(paths: list[Path]) -> list[str]:
    """Parameter names in each parameters file must be main.bicep's, and cover every required one."""
    declared, required = main_parameters()
    errors = []
    for path in paths:
        where = path.relative_to(INFRA.parent)
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".bicepparam":
            using = _USING.search(text)
            if not using or (path.parent / using.group(1)).resolve() != MAIN:
                errors.append(f"{where}: must start with using '<relative path to infra/main.bicep>'")
            names = set(_PARAM_SET.findall(text))
        else:
            names = set(json.loads(text).get("parameters", {}))
        errors.extend(f"{where}: parameter {n!r} is not declared in infra/main.bicep" for n in sorted(names - declared))
        errors.extend(f"{where}: required parameter {n!r} is not set" for n in sorted(required - names))
    return errors


def syntax_errors(paths: list[Path]) -> list[str]:
    """One message per file whose tree-sitter-bicep parse tree has an ERROR or MISSING node."""
    import tree_sitter
    import tree_sitter_bicep

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bicep.language()))
    errors = []
    for path in paths:
        root = parser.parse(path.read_bytes()).root_node
        if not root.has_error:
            continue
        where = _first_error(root)
        errors.append(f"{path.relative_to(INFRA.parent)}:{where[0] + 1}:{where[1] + 1}: syntax error")
    return errors


def _first_error(node: object) -> tuple[int, int]:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.is_error or current.is_missing:  # type: ignore[attr-defined]
            return current.start_point  # type: ignore[attr-defined,no-any-return]
        stack.extend(reversed(current.children))  # type: ignore[attr-defined]
    return node.start_point  # type: ignore[attr-defined,no-any-return]


def missing_loaded_files(paths: list[Path]) -> list[str]:
    """loadTextContent()/loadJsonContent() paths are resolved at compile time, which only happens online."""
    errors = []
    for path in paths:
        for target in re.findall(r"load(?:Text|Json|FileAsBase64)Content\('([^']+)'", path.read_text(encoding="utf-8")):
            if not (path.parent / target).is_file():
                errors.append(f"{path.relative_to(INFRA.parent)}: loads {target!r}, which does not exist")
    return errors


def unjustified_skips() -> list[str]:
    """Skipped checks must each carry a '# why' comment on their line in infra/.checkov.yaml."""
    problems = []
    for number, line in enumerate(CHECKOV_CONFIG.read_text(encoding="utf-8").splitlines(), 1):
        match = _SKIP_LINE.match(line)
        if match and not (match.group(2) or "").strip():
            problems.append(f"infra/.checkov.yaml:{number}: skip of {match.group(1)} has no justification")
    return problems


def run_checkov() -> dict[str, object]:
    checkov = Path(sys.executable).with_name("checkov")
    command = [str(checkov), "-d", str(INFRA), "--framework", "bicep", "--skip-download", "-o", "json",
               "--config-file", str(CHECKOV_CONFIG)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=INFRA.parent)
    if done.returncode not in (0, 1):
        raise SystemExit(f"checkov crashed (rc {done.returncode}):\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    if isinstance(report, list):  # one entry per framework when several ran
        report = next((r for r in report if r.get("check_type") == "bicep"), {})
    return report


def main(argv: list[str]) -> int:
    started = time.monotonic()
    paths = bicep_files()
    problems = (syntax_errors(paths) + missing_loaded_files(paths) + parameter_file_errors(parameter_files())
                + unjustified_skips())
    report = run_checkov()
    summary = report.get("summary", {})
    results = report.get("results", {})
    failed = results.get("failed_checks", []) if isinstance(results, dict) else []
    if summary.get("parsing_errors", 1) != 0:
        problems.append(f"checkov could not parse {summary.get('parsing_errors')} file(s): "
                        f"{results.get('parsing_errors') if isinstance(results, dict) else '?'}")
    if summary.get("resource_count", 0) == 0:
        problems.append("checkov scanned no resources (registry modules or a parse failure?)")
    problems.extend(f"{c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']}:{c['file_line_range'][0]})"
                    for c in failed)
    outcome = {
        "files": len(paths),
        "parameter_files": len(parameter_files()),
        "skips_configured": sum(1 for line in CHECKOV_CONFIG.read_text(encoding="utf-8").splitlines()
                                if _SKIP_LINE.match(line)),
        "syntax_errors": sum(1 for p in problems if p.endswith("syntax error")),
        "checkov": {k: summary.get(k) for k in ("passed", "failed", "skipped", "parsing_errors", "resource_count",
                                                "checkov_version")},
        "problems": problems,
        "seconds": round(time.monotonic() - started, 1),
    }
    if "--json" in argv:
        print(json.dumps(outcome, indent=2))
    else:
        for problem in problems:
            print(f"FAIL {problem}")
        c = outcome["checkov"]
        print(f"{len(paths)} Bicep files parsed, {outcome['parameter_files']} parameters files checked; "
              f"checkov {c['checkov_version']}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped "
              f"(+{outcome['skips_configured']} skipped by infra/.checkov.yaml), {c['parsing_errors']} parsing errors, "
              f"{c['resource_count']} resources ({outcome['seconds']} s)")
        print("infra validation " + ("FAILED" if problems else "passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
