"""Static checks of a training script before it runs (the script is parsed, never imported).

* it parses;
* every import resolves and is on the allow-list (rlcore, numpy, torch, gymnasium and a few
  standard modules); modules that start processes, reach the network, load native code or
  re-enter the import system are refused;
* every rlcore name and attribute used exists, and so do the algorithm, env id, config
  fields, part keys and trainer options passed to ``make_agent`` / ``agent.train`` /
  ``agent.set`` (with the closest valid name suggested);
* no ``eval``/``exec``/``compile``/``__import__``, no dunder attribute tricks, no ``os``
  calls beyond reading paths and the environment, and no ``open``/``Path.write_*`` of a
  literal path outside the run folder (absolute or with ``..``).

Validation is static: the script is parsed, never run, and nothing it names is imported
in the product's process (modules are located by the import system's finders, rlcore names
not yet loaded are read from their source; see :mod:`copilot.codegen.validate_calls`).
These checks are early, readable errors; the wall is the OS sandbox the script then runs
in (:mod:`copilot.codegen.sandbox`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from typing import Any

from copilot.codegen import catalog
from copilot.codegen.errors import CodegenError
from copilot.codegen.validate_calls import (
    _arg,
    _check_config_kwargs,
    _check_env,
    _check_write_paths,
    _const,
    _hint,
    check_agent_call,
    check_make_agent,
    find_module,
    literal_prefix,
    outside,
    static_names,
)

ALLOWED_MODULES = frozenset({
    "rlcore", "numpy", "torch", "gymnasium", "math", "json", "pathlib", "random", "time", "datetime",
    "dataclasses", "typing", "collections", "itertools", "functools", "statistics", "csv", "os", "sys",
    "re", "copy", "enum", "abc", "string", "textwrap", "warnings", "__future__", "matplotlib", "tqdm",
    "pprint", "operator", "decimal", "fractions", "contextlib", "argparse", "heapq", "bisect"})
FORBIDDEN_MODULES = frozenset({
    "subprocess", "socket", "ssl", "urllib", "urllib3", "http", "requests", "httpx", "aiohttp", "ftplib",
    "smtplib", "telnetlib", "socketserver", "xmlrpc", "webbrowser", "ctypes", "cffi", "multiprocessing",
    "concurrent", "shutil", "importlib", "pickle", "marshal", "shelve", "pty", "signal", "resource",
    "asyncio", "builtins", "code", "codeop", "runpy", "gc", "inspect", "sysconfig", "site", "mmap"})
FORBIDDEN_CALLS = frozenset({"eval", "exec", "compile", "__import__", "breakpoint", "globals", "locals",
                             "vars", "memoryview"})
FORBIDDEN_NAMES = frozenset({"__builtins__", "__loader__", "__spec__"})
SAFE_DUNDERS = frozenset({"__name__", "__doc__", "__file__", "__init__", "__version__"})
OS_ALLOWED = frozenset({"path", "environ", "getenv", "getcwd", "makedirs", "mkdir", "listdir", "scandir",
                        "sep", "linesep", "cpu_count", "fspath", "getpid", "name", "curdir", "pardir"})
SYS_ALLOWED = frozenset({"argv", "exit", "stdout", "stderr", "version", "version_info", "platform",
                         "float_info", "maxsize", "executable"})
TORCH_FORBIDDEN = ("torch.hub", "torch.utils.cpp_extension", "torch.distributed", "torch.multiprocessing",
                   "torch.ops.load_library", "torch.classes.load_library")
WRITE_METHODS = frozenset({"write_text", "write_bytes", "touch", "mkdir", "unlink", "rmdir", "rename",
                           "replace", "symlink_to", "hardlink_to", "chmod"})


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ScriptError(CodegenError):
    """A script that failed validation; ``problems`` lists every finding."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        more = f" ({len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"The script was refused at {problems[0]}{more}.")


def resolve_rlcore(dotted: str) -> str | None:
    """None if the dotted rlcore name exists, else the problem (with the closest name).

    Loaded modules and their objects are inspected; a submodule not loaded yet is not
    imported: the names its source binds are read instead (and nothing deeper is checked).
    """
    parts = dotted.split(".")
    obj: Any = find_module(parts[0])
    for i, name in enumerate(parts[1:], start=1):
        prefix = ".".join(parts[:i])
        if isinstance(obj, ModuleSpec):  # found, not loaded
            sub = find_module(f"{prefix}.{name}") if obj.submodule_search_locations else None
            if sub is not None:
                obj = sub
                continue
            names = static_names(obj)
            if names is None or name in names:
                return None
            return f"{prefix} has no name {name!r}{_hint(name, sorted(n for n in names if n[0] != '_'))}"
        if hasattr(obj, name):
            obj = getattr(obj, name)
            continue
        sub = find_module(f"{prefix}.{name}") if hasattr(obj, "__path__") else None
        if sub is not None:
            obj = sub
            continue
        public = [n for n in dir(obj) if not n.startswith("_")]
        return f"{prefix} has no name {name!r}{_hint(name, public)}"
    return None


class Checker(ast.NodeVisitor):
    """Collects :class:`Problem` s; see the module docstring for what is checked."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.names: dict[str, str] = {}  # local name -> dotted module/object it is bound to
        self.dicts: dict[str, ast.Dict] = {}  # local name -> dict literal assigned to it
        self.agents: dict[str, str] = {}  # local name -> algorithm of make_agent(...)

    def add(self, node: ast.AST, message: str) -> None:
        self.problems.append(Problem(getattr(node, "lineno", 0), message))

    # ----- imports -----------------------------------------------------------------------
    def _check_module(self, node: ast.AST, module: str) -> bool:
        top = module.split(".")[0]
        if top in FORBIDDEN_MODULES:
            self.add(node, f"importing {module!r} is not allowed in a training script (no processes, "
                     "network, native code or import tricks)")
            return False
        if top not in ALLOWED_MODULES:
            self.add(node, f"module {module!r} is not on the allow-list ({', '.join(sorted(ALLOWED_MODULES))})")
            return False
        if any(module == f or module.startswith(f + ".") for f in TORCH_FORBIDDEN):
            self.add(node, f"{module!r} is not allowed in a training script")
            return False
        found = find_module(module) is not None
        if not found:
            if top == "rlcore":
                problem = resolve_rlcore(module)
                self.add(node, problem or f"module {module!r} cannot be found")
            else:
                self.add(node, f"module {module!r} cannot be found")
        return found

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if self._check_module(node, alias.name):
                local = alias.asname or alias.name.split(".")[0]
                self.names[local] = alias.name if alias.asname else alias.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.add(node, "relative imports are not allowed in a training script")
            return
        module = node.module or ""
        if not self._check_module(node, module):
            return
        for alias in node.names:
            if alias.name == "*":
                self.add(node, f"'from {module} import *' hides which names are used; import them by name")
                continue
            dotted = f"{module}.{alias.name}"
            if module.split(".")[0] == "rlcore":
                problem = resolve_rlcore(dotted)
                if problem:
                    self.add(node, problem)
                    continue
            self._check_dotted(node, dotted)
            self.names[alias.asname or alias.name] = dotted

    # ----- names and attributes ----------------------------------------------------------
    def dotted(self, node: ast.AST) -> str | None:
        """The full dotted name an expression like ``np.random.rand`` refers to, if known."""
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def _check_dotted(self, node: ast.AST, dotted: str) -> None:
        parts = dotted.split(".")
        if parts[0] == "os" and len(parts) > 1 and parts[1] not in OS_ALLOWED:
            self.add(node, f"os.{parts[1]} is not allowed in a training script (allowed: "
                     f"{', '.join(sorted(OS_ALLOWED))})")
        elif parts[0] == "sys" and len(parts) > 1 and parts[1] not in SYS_ALLOWED:
            self.add(node, f"sys.{parts[1]} is not allowed in a training script")
        elif any(dotted == f or dotted.startswith(f + ".") for f in TORCH_FORBIDDEN):
            self.add(node, f"{dotted} is not allowed in a training script")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self.add(node, f"{node.id} is not allowed in a training script")
        elif node.id in FORBIDDEN_CALLS and isinstance(node.ctx, ast.Load):
            self.add(node, f"{node.id}() is not allowed in a training script")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("__") and node.attr not in SAFE_DUNDERS:
            self.add(node, f"attribute {node.attr!r} is not allowed in a training script")
        dotted = self.dotted(node)
        if dotted and not isinstance(node.ctx, ast.Store):
            if dotted.split(".")[0] == "rlcore":
                problem = resolve_rlcore(dotted)
                if problem:
                    self.add(node, problem)
            else:
                self._check_dotted(node, dotted)
        elif isinstance(node.value, ast.Name) and node.value.id in self.agents:
            self._check_agent_attr(node, self.agents[node.value.id])
        self.generic_visit(node)

    def _check_agent_attr(self, node: ast.Attribute, algo: str) -> None:
        cls = catalog.agent_class(algo)
        if isinstance(node.ctx, ast.Load) and not hasattr(cls, node.attr) and not node.attr.startswith("_"):
            known = {"config", "seed", "env", "env_id", "device", "num_envs", "parts", "global_step",
                     "total_steps", "observation_space", "action_space", "built"}
            if node.attr not in known:
                public = [n for n in dir(cls) if not n.startswith("_")] + sorted(known)
                self.add(node, f"{algo} agents have no attribute {node.attr!r}{_hint(node.attr, public)}")

    # ----- assignments and calls ---------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        for target in node.targets:
            if not isinstance(target, ast.Name):
                continue
            if isinstance(node.value, ast.Dict):
                self.dicts[target.id] = node.value
            if isinstance(node.value, ast.Call) and self.dotted(node.value.func) == "rlcore.make_agent":
                algo = _const(_arg(node.value, 0, "algo"))
                if isinstance(algo, str) and algo in catalog.algos():
                    self.agents[target.id] = algo

    def visit_Call(self, node: ast.Call) -> None:
        dotted = self.dotted(node.func)
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if dotted == "rlcore.make_agent":
            check_make_agent(self, node)
        elif dotted in ("rlcore.make_env", "rlcore.envs.make_env"):
            _check_env(self, node, _const(_arg(node, 0, "env_id")))
        elif dotted and dotted.startswith("rlcore.") and dotted.endswith("Config"):
            _check_config_kwargs(self, node, dotted)
        if name in ("getattr", "setattr", "delattr", "hasattr") and name not in self.names:
            attr = _const(_arg(node, 1, "name"))
            if not isinstance(attr, str) or (attr.startswith("__") and attr not in SAFE_DUNDERS):
                self.add(node, f"{name}() with a computed or special attribute name is not allowed")
        if isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if isinstance(receiver, ast.Name) and receiver.id in self.agents:
                check_agent_call(self, node, self.agents[receiver.id])
            if node.func.attr in WRITE_METHODS and outside(literal_prefix(receiver)):
                self.add(node, f"{node.func.attr}() on {literal_prefix(receiver)!r} writes outside the run folder")
        _check_write_paths(self, node, name or (node.func.attr if isinstance(node.func, ast.Attribute) else ""))
        self.generic_visit(node)


def find_problems(source: str, filename: str = "train.py") -> list[Problem]:
    """Every problem found in ``source`` (empty when the script may run)."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return [Problem(exc.lineno or 0, f"syntax error: {exc.msg}")]
    checker = Checker()
    checker.visit(tree)
    return sorted(set(checker.problems), key=lambda p: (p.line, p.message))


def validate_script(source: str, filename: str = "train.py") -> None:
    """Raise :class:`ScriptError` (one sentence, the first problem) unless ``source`` passes."""
    problems = find_problems(source, filename)
    if problems:
        raise ScriptError(problems)
