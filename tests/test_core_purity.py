"""``bs/core`` stays pure: no adapters, no processes, no sockets, no files, no clock.

Imports are read with ``ast`` from the source (``import x``, ``from x import
y``, relative imports, imports inside functions), so a lazy import cannot
hide one; a fresh interpreter then checks what importing the core loads.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "bs" / "core"

#: Top-level modules the core must not import, directly or lazily.
FORBIDDEN_MODULES = frozenset(
    {
        "git",
        "github",
        "flask",
        "click",
        "smtplib",
        "subprocess",
        "socket",
        "requests",
        "sqlalchemy",
        "jenkins",
        "os",
        # Also I/O, processes, randomness and the clock: callers pass these in.
        "pathlib",
        "shutil",
        "tempfile",
        "io",
        "secrets",
        "random",
        "uuid",
        "time",
        "urllib",
        "http",
        "importlib",
        "multiprocessing",
        "threading",
    }
)
#: Inside bs, the core may import only itself and the error type.
ALLOWED_BS_MODULES = ("bs.core", "bs.errors")
#: Calls that read or write files, run code, or read the clock or randomness.
FORBIDDEN_CALL_NAMES = frozenset(
    {"open", "exec", "eval", "compile", "__import__", "input", "print"}
)
FORBIDDEN_METHODS = frozenset(
    {
        "read_text",
        "write_text",
        "read_bytes",
        "write_bytes",
        "open",
        "now",
        "utcnow",
        "today",
        "urandom",
        "token_bytes",
        "token_hex",
        "token_urlsafe",
        "import_module",
        "system",
        "popen",
    }
)
#: Adapter libraries that importing the core must not load, even indirectly.
HEAVY_MODULES = ("git", "github", "flask", "click", "smtplib", "sqlalchemy", "jenkins", "requests")


@dataclass(frozen=True)
class Finding:
    line: int
    what: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve_relative(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    package = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every module named by an import anywhere in the tree (absolute names)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, node, is_package) if node.level else (node.module or "")
            )
            found.append((node.lineno, base))
            # `from bs import gitcmd` imports bs.gitcmd.
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def check_source(
    source: str, module: str = "bs.core.example", is_package: bool = False
) -> list[Finding]:
    tree = ast.parse(source)
    findings: list[Finding] = []
    for line, name in imported_modules(tree, module, is_package):
        top = name.split(".")[0]
        if top in FORBIDDEN_MODULES:
            findings.append(Finding(line, f"imports {name}"))
        elif top == "bs" and not (
            # `from bs.errors import BsError` yields "bs.errors.BsError": allowed.
            name == "bs"
            or any(name == ok or name.startswith(ok + ".") for ok in ALLOWED_BS_MODULES)
        ):
            findings.append(Finding(line, f"imports {name} (outside bs.core)"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALL_NAMES:
            findings.append(Finding(node.lineno, f"calls {func.id}()"))
        elif isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_METHODS:
            findings.append(Finding(node.lineno, f"calls .{func.attr}()"))
    return findings


def core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_the_core_has_modules() -> None:
    names = {p.name for p in core_files()}
    assert {"tags.py", "versions.py", "patchstats.py", "request.py", "ids.py"} <= names


@pytest.mark.parametrize("path", core_files(), ids=lambda p: p.name)
def test_core_module_is_pure(path: Path) -> None:
    module = _module_name(path)
    findings = check_source(
        path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py"
    )
    assert not findings, f"{path.relative_to(ROOT)} is not pure:\n" + "\n".join(
        f"  {f}" for f in findings
    )


def test_the_checker_finds_what_it_should() -> None:
    """The check above is only as good as this: every way of importing or doing I/O is seen."""
    source = """
import os
import os.path as osp
import git
from subprocess import run
from github.Repository import Repository
from .. import gitcmd
from ..config import AppConfig
from bs.forges import local
import bs.patchfile

def lazy():
    import click
    from socket import socket
    from datetime import datetime
    datetime.now()
    open("x")
    Path("x").read_text()
    secrets.token_bytes(10)

class K:
    def m(self):
        import sqlalchemy.orm
        return __import__("flask")
"""
    whats = {f.what for f in check_source(source, "bs.core.example")}
    for expected in (
        "imports os",
        "imports os.path",
        "imports git",
        "imports subprocess",
        "imports github.Repository",
        "imports bs.gitcmd (outside bs.core)",
        "imports bs.config (outside bs.core)",
        "imports bs.forges (outside bs.core)",
        "imports bs.patchfile (outside bs.core)",
        "imports click",
        "imports socket",
        "imports sqlalchemy.orm",
        "calls .now()",
        "calls open()",
        "calls .read_text()",
        "calls .token_bytes()",
        "calls __import__()",
    ):
        assert expected in whats, (expected, whats)
    # What the core legitimately does is not flagged.
    clean = """
from __future__ import annotations
import re
from datetime import UTC, datetime
from bs.errors import BsError
from bs.core.ids import REQUEST_ID_PATTERN
from . import tags
from .tags import TagScheme
"""
    assert check_source(clean, "bs.core.example") == []


def test_importing_the_core_loads_no_adapter_library() -> None:
    """Transitively too: a fresh interpreter imports every core module, then lists
    which adapter libraries and non-core bs modules got loaded."""
    modules = [_module_name(p) for p in core_files()]
    program = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"heavy = {HEAVY_MODULES!r}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in heavy\n"
        "    or (m.startswith('bs.') and not m.startswith(('bs.core', 'bs.errors'))))\n"
        "print('\\n'.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [], f"importing bs.core loads: {result.stdout.split()}"
