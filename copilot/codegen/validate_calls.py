"""Checks of the calls a training script makes into rlcore and of the paths it writes.

Used by :mod:`copilot.codegen.validate`; ``checker`` is its ``Checker`` (it has ``add``,
``dicts`` and ``names``).

Everything here is static: no module the script names is imported and no environment it
names is built in the product's process. Modules are located through the import system's
finders (which read directories, never module code); an env id is looked up in the
Gymnasium registry; its action space is checked by building it only when its entry point
lives in Gymnasium itself (the product's own dependency); a ``module:EnvId`` id, or an
entry point elsewhere, is checked where the script runs, inside the sandbox.
"""

from __future__ import annotations

import ast
import sys
from typing import Any

from copilot.codegen import catalog
from copilot.codegen.errors import CodegenError
from rlcore.config import FIELD_SYNONYMS
from rlcore.errors import closest


def _hint(name: str, accepted: Any, synonyms: Any = None) -> str:
    near = closest(name, list(accepted), synonyms=synonyms)
    return f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""


def _const(node: ast.AST | None) -> Any:
    return node.value if isinstance(node, ast.Constant) else None


def _writes(mode: Any) -> bool:
    return isinstance(mode, str) and any(c in mode for c in "wax+")


def outside(path: Any) -> bool:
    """Whether a literal path points outside the run folder (absolute, ``~`` or with ``..``)."""
    if not isinstance(path, str):
        return False
    parts = path.replace("\\", "/").split("/")
    return path.startswith(("/", "~", "\\")) or ".." in parts or (len(path) > 1 and path[1] == ":")


def _arg(node: ast.Call, index: int, keyword: str) -> ast.AST | None:
    for kw in node.keywords:
        if kw.arg == keyword:
            return kw.value
    return node.args[index] if len(node.args) > index else None


def literal_prefix(node: ast.AST | None) -> str | None:
    """The literal start of a path expression (``"/etc"`` for ``Path("/etc") / name``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        return literal_prefix(node.values[0])
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Div)):
        left = literal_prefix(node.left)
        right = literal_prefix(node.right)
        if left is not None and right is not None and isinstance(node.op, ast.Div):
            return f"{left}/{right}"
        return left if left is not None else (right if isinstance(node.op, ast.Div) and right else None)
    if isinstance(node, ast.Call) and node.args:
        return literal_prefix(node.args[0])
    return None


def _check_write_paths(checker: Any, node: ast.Call, name: str) -> None:
    lowered = name.lower()
    if name == "open":
        mode = _const(_arg(node, 1, "mode")) or "r"
        target = literal_prefix(_arg(node, 0, "file"))
        if _writes(mode) and outside(target):
            checker.add(node, f"open({target!r}, {mode!r}) writes outside the run folder; write next to the script")
        return
    if not any(w in lowered for w in ("save", "write", "dump", "mkdir", "makedirs", "touch", "to_csv")):
        return
    for arg in [*node.args, *(kw.value for kw in node.keywords)]:
        target = literal_prefix(arg)
        if outside(target):
            checker.add(node, f"{name}() writes to {target!r}, outside the run folder; write next to the script")


def _find_spec(fullname: str, path: Any) -> Any:
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        try:
            spec = find(fullname, path)
        except (ImportError, ValueError, TypeError, AttributeError):
            continue
        if spec is not None:
            return spec
    return None


def find_module(name: str) -> Any:
    """The module object (if already imported) or spec of ``name``, found without importing it
    or any parent package; None if it cannot be found."""
    if name in sys.modules:
        return sys.modules[name]
    parts, path, found = name.split("."), None, None
    for i in range(len(parts)):
        full = ".".join(parts[: i + 1])
        found = sys.modules.get(full)
        if found is not None:
            path = getattr(found, "__path__", None)
        else:
            found = _find_spec(full, path)
            if found is None:
                return None
            path = found.submodule_search_locations
        if i < len(parts) - 1 and path is None:
            return None  # a plain module has no submodules
    return found


def static_names(spec: Any) -> set[str] | None:
    """Top-level names a module's source binds (None when there is no source to read)."""
    origin = getattr(spec, "origin", None)
    if not origin or not str(origin).endswith(".py"):
        return None
    try:
        with open(origin, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _builds_in_parent(env_id: str) -> bool:
    """Whether the env's constructor is Gymnasium's own code (or already loaded), so the action
    space may be read by building it here."""
    import gymnasium as gym

    entry = gym.registry[env_id].entry_point
    if not isinstance(entry, str):
        return True  # an object already loaded in this process
    module = entry.split(":")[0]
    return module.split(".")[0] == "gymnasium" or module in sys.modules


def _check_env(checker: Any, node: ast.AST, env_id: Any) -> bool:
    """Problems with a literal env id; True when its action space may be checked here."""
    from copilot.codegen.checks import unknown_env_error

    if not isinstance(env_id, str):
        return False
    if ":" in env_id:
        module = env_id.partition(":")[0]
        if not module or find_module(module) is None:
            checker.add(node, f"env id {env_id!r} names module {module!r}, which cannot be found")
        return False  # registering it means importing it: that happens in the sandbox
    if not catalog.env_registered(env_id):
        checker.add(node, str(unknown_env_error(env_id)).rstrip("."))
        return False
    return _builds_in_parent(env_id)


def _check_config_keys(checker: Any, node: ast.AST, algo: str, config: ast.AST | None) -> None:
    if isinstance(config, ast.Name):
        config = checker.dicts.get(config.id)
    if not isinstance(config, ast.Dict):
        return
    fields = catalog.config_info(algo)
    for key, value in zip(config.keys, config.values):
        name = _const(key)
        if not isinstance(name, str):
            continue
        if name not in fields:
            checker.add(key, f"{algo} has no config field {name!r}{_hint(name, fields, FIELD_SYNONYMS)}")
            continue
        literal = _const(value)
        if isinstance(literal, (int, float)) and not isinstance(literal, bool):
            reason = fields[name].check(literal)
            if reason:
                checker.add(value, f"config field {name!r} = {literal!r}: it {reason}")


def _check_config_kwargs(checker: Any, node: ast.Call, dotted: str) -> None:
    for algo in catalog.algos():
        if catalog.config_class_name(algo) == dotted.rsplit(".", 1)[-1]:
            fields = catalog.config_info(algo)
            for kw in node.keywords:
                if kw.arg and kw.arg not in fields:
                    checker.add(kw.value, f"{algo} has no config field {kw.arg!r}"
                                          f"{_hint(kw.arg, fields, FIELD_SYNONYMS)}")
            return


def check_make_agent(checker: Any, node: ast.Call) -> None:
    algo = _const(_arg(node, 0, "algo"))
    if isinstance(algo, str) and algo not in catalog.algos():
        checker.add(node, f"unknown algorithm {algo!r}{_hint(algo, catalog.algos())}; accepted: "
                    f"{', '.join(catalog.algos())}")
        return
    env_id = _const(_arg(node, 1, "env"))
    buildable = _check_env(checker, node, env_id)
    if not isinstance(algo, str):
        return
    if buildable:
        from copilot.codegen.checks import check_action_space

        try:
            check_action_space(algo, env_id)
        except CodegenError as exc:
            checker.add(node, str(exc).rstrip("."))
    _check_config_keys(checker, node, algo, _arg(node, 2, "config"))
    options = set(catalog.make_agent_options()) | {"config", "algo", "env"}
    roles = catalog.roles()
    slots = catalog.part_keys(algo)
    for kw in node.keywords:
        if kw.arg is None or kw.arg in options or kw.arg.removesuffix("_kwargs") in roles:
            if kw.arg in roles:
                _check_part(checker, kw, algo, slots)
            continue
        checker.add(kw.value, f"make_agent() has no option {kw.arg!r}"
                    f"{_hint(kw.arg, [*options, *roles])}; accepted: {', '.join(sorted(options | set(roles)))}")


def _check_part(checker: Any, kw: ast.keyword, algo: str, slots: dict[str, tuple[str, ...]]) -> None:
    key = _const(kw.value)
    if not isinstance(key, str):
        return
    if kw.arg not in slots:
        checker.add(kw.value, f"{algo} has no {kw.arg} slot; its parts are {', '.join(slots)}")
    elif key not in slots[kw.arg]:
        checker.add(kw.value, f"{kw.arg} {key!r} does not fit {algo}{_hint(key, slots[kw.arg])}; accepted: "
                    f"{', '.join(slots[kw.arg]) or 'none registered'}")


def check_agent_call(checker: Any, node: ast.Call, algo: str) -> None:
    method = node.func.attr  # type: ignore[attr-defined]
    if method == "train":
        options = catalog.trainer_options()
        for kw in node.keywords:
            if kw.arg and kw.arg not in options:
                checker.add(kw.value, f"train() has no option {kw.arg!r}{_hint(kw.arg, options)}; "
                            f"accepted: {', '.join(options)}")
        steps = _const(_arg(node, 0, "total_steps"))
        if isinstance(steps, (int, float)) and steps < 1:
            checker.add(node, f"train() needs a positive step count; got {steps!r}")
    elif method == "set":
        slots = catalog.part_keys(algo)
        for kw in node.keywords:
            if kw.arg in catalog.roles():
                _check_part(checker, kw, algo, slots)
            elif kw.arg and kw.arg.removesuffix("_kwargs") not in catalog.roles():
                checker.add(kw.value, f"set() takes parts by role; {kw.arg!r} is not one of "
                            f"{', '.join(catalog.roles())}")
