"""Compile a template file into a :class:`Template`: its search space and how to render it.

Compiling only reads the syntax tree; no line of the template runs. The walk over the tree
carries a *context*: the chain of choices that must hold for the code being visited to run. A
marker gets the context it stands in, so a marker under ``if {{choice(['a', 'b'])}} == 'b':``
is active only when that choice is ``'b'``. The same holds under ``if n_layers >= 2:`` when
``n_layers = {{choice([1, 2, 3])}}`` is that name's only assignment.
"""

from __future__ import annotations

import ast
import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypertune.errors import BadInputError, TemplateError
from hypertune.space import CATEGORICAL, Condition, Hyperparameter, Params, SearchSpace
from hypertune.template import render
from hypertune.template.markers import (
    Marker,
    MarkerError,
    evaluate_literal_test,
    is_marker,
    outer_markers,
    read_marker,
)
from hypertune.template.naming import assign_names

#: Function names looked for, in order, when no ``function`` is given.
MODEL_FUNCTIONS = ("create_model", "model")

Context = tuple[tuple[Marker, tuple[int, ...]], ...]


@dataclass(frozen=True)
class Template:
    """A compiled template: its source, search space and model function.

    ``takes_data`` is true for Hyperas-style model functions, ``(x_train, y_train, x_test,
    y_test)``, which train the model themselves and return ``{'loss': ..., 'status': ...}``.
    """

    path: str
    source: str
    space: SearchSpace
    function: str
    takes_data: bool
    has_data_function: bool
    spans: tuple[render.Span, ...]
    warnings: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    @property
    def needs_split(self) -> bool:
        """False for Hyperas-style templates with their own ``data()``: they need no MNIST."""
        return not (self.takes_data and self.has_data_function)

    @property
    def name(self) -> str:
        return Path(self.path).stem

    def render(self, params: Params) -> str:
        """The template's source with ``params`` filled in: the code that will run."""
        return render.fill(self.source, self.spans, self.space, params)

    def load(self, params: Params, hooks: Any = None) -> dict[str, Any]:
        """Run the rendered template as a module and return its namespace.

        ``hooks`` (an object with ``callbacks(existing)`` and ``verbose(existing)``) is wired into
        every ``.fit(...)`` call so that hypertune sees each epoch of Hyperas-style templates.
        """
        return render.execute(self.path, self.render(params), self.function, hooks)


def compile_template(path: str | Path, function: str | None = None) -> Template:
    """Read and compile the template at ``path``; raise TemplateError pointing at the line."""
    path = str(path)
    try:
        source = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"no template at {path}: check the path") from None
    except IsADirectoryError:
        raise BadInputError(f"{path} is a folder; give the path of a template .py file") from None
    except UnicodeDecodeError as error:
        raise TemplateError(f"the template is not UTF-8 text ({error.reason})", path, 1) from None
    except OSError as error:
        raise BadInputError(f"cannot read the template {path}: {error.strerror}") from None
    return compile_source(source, path, function)


def compile_source(source: str, path: str = "<template>", function: str | None = None) -> Template:
    """Compile template source text (``path`` is used in messages and tracebacks)."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        raise TemplateError(
            f"invalid Python: {error.msg}; fix this line",
            path,
            error.lineno or 1,
            max((error.offset or 1) - 1, 0),
        ) from None
    except (ValueError, RecursionError, MemoryError) as error:
        raise TemplateError(f"cannot parse the template: {error}", path, 1) from None
    try:
        return _Compiler(path, source, tree).compile(function)
    except MarkerError as error:
        node = error.node
        raise TemplateError(
            str(error), path, getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        ) from None
    except RecursionError:
        raise TemplateError("the template nests too deeply to compile", path, 1) from None


class _Compiler:
    def __init__(self, path: str, source: str, tree: ast.Module):
        self.path = path
        self.source = source
        self.tree = tree
        self.markers: dict[ast.Set, Marker] = {}
        self.warnings: list[str] = []
        self.module_bindings = _bindings(tree, module=True)

    def compile(self, function: str | None) -> Template:
        model = self._model_function(function)
        data = self._top_function("data")
        if data is not None:
            nested = next(outer_markers(data), None)
            if nested is not None:
                raise MarkerError(
                    "markers are not allowed in data(): data is loaded once per study; move the "
                    "choice into the model function",
                    nested,
                )
        for statement in self.tree.body:
            self._visit(statement, (), self.module_bindings)

        markers = sorted(self.markers.values(), key=lambda m: (m.line, m.col))
        assign_names(markers, self.tree, model.name)
        hyperparameters = [self._hyperparameter(m) for m in markers]
        positional = [a for a in model.args.posonlyargs + model.args.args]
        required = len(positional) - len(model.args.defaults)
        return Template(
            path=self.path,
            source=self.source,
            space=SearchSpace(hyperparameters),
            function=model.name,
            takes_data=required > 0,
            has_data_function=data is not None,
            spans=render.spans(self.source, self.tree, markers),
            warnings=tuple(self.warnings),
        )

    def _model_function(self, function: str | None) -> ast.FunctionDef:
        wanted = (function,) if function else MODEL_FUNCTIONS
        for name in wanted:
            found = self._top_function(name)
            if found is not None:
                return found
        if function:
            raise MarkerError(
                f"no function named '{function}' at the top level of the template", self.tree
            )
        raise MarkerError(
            "no model function: define `def create_model():` returning a compiled Keras model, "
            "or Hyperas's `def model(x_train, y_train, x_test, y_test):`",
            self.tree,
        )

    def _top_function(self, name: str) -> ast.FunctionDef | None:
        for statement in self.tree.body:
            if isinstance(statement, ast.FunctionDef) and statement.name == name:
                return statement
        return None

    def _warn(self, message: str, node: ast.AST) -> None:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        self.warnings.append(f"{self.path}:{line}:{col}: {message}")

    # -- the walk ---------------------------------------------------------------------------

    def _visit(self, node: ast.AST, context: Context, bindings: dict[str, ast.Set]) -> None:
        if is_marker(node):
            assert isinstance(node, ast.Set)
            self._register(node, context, bindings)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node in self.tree.body:
            local = _stores(node, module=False)
            inherited = {k: v for k, v in self.module_bindings.items() if k not in local}
            bindings = {**inherited, **_bindings(node, module=False)}
        if isinstance(node, (ast.If, ast.IfExp)):
            self._branch(node, context, bindings)
            return
        for child in ast.iter_child_nodes(node):
            self._visit(child, context, bindings)

    def _register(self, node: ast.Set, context: Context, bindings: dict[str, ast.Set]) -> None:
        marker = read_marker(node, self.source, self._warn)
        marker.context = context
        self.markers[node] = marker
        for index, option in enumerate(marker.option_nodes):
            self._visit(option, (*context, (marker, (index,))), bindings)

    def _branch(
        self, node: ast.If | ast.IfExp, context: Context, bindings: dict[str, ast.Set]
    ) -> None:
        self._visit(node.test, context, bindings)
        gate = self._gate(node.test, context, bindings)
        body: list[ast.AST] = list(node.body) if isinstance(node.body, list) else [node.body]
        orelse: list[ast.AST] = (
            list(node.orelse) if isinstance(node.orelse, list) else [node.orelse]
        )
        if gate is None:
            body_context = orelse_context = context
        else:
            marker, taken, not_taken = gate
            body_context = self._narrow(context, marker, taken, body, "this branch")
            orelse_context = self._narrow(context, marker, not_taken, orelse, "the else branch")
        for child in body:
            self._visit(child, body_context, bindings)
        for child in orelse:
            self._visit(child, orelse_context, bindings)

    def _narrow(
        self,
        context: Context,
        marker: Marker,
        indices: tuple[int, ...],
        code: list[ast.AST],
        what: str,
    ) -> Context:
        """``context`` further limited to ``marker``'s ``indices`` (met again in an elif)."""
        base = _without(context, marker)
        if len(base) < len(context):
            earlier = set(context[-1][1])
            indices = tuple(i for i in indices if i in earlier)
        if len(indices) == len(marker.options):
            return base
        if not indices and any(True for part in code for _ in outer_markers(part)):
            self._warn(
                f"{what} never runs for any option of the choice at line {marker.line}; its "
                "markers are never sampled",
                code[0],
            )
        return (*base, (marker, indices))

    def _gate(
        self, test: ast.expr, context: Context, bindings: dict[str, ast.Set]
    ) -> tuple[Marker, tuple[int, ...], tuple[int, ...]] | None:
        """The choice an ``if`` test compares with literals, and the options that pass it."""
        inline = list(outer_markers(test))
        names = _free_names(test) - {"conditional"}
        if len(inline) == 1 and not names:
            placeholder: ast.AST = inline[0]
            marker = self.markers[inline[0]]

            def substitute(node: ast.expr) -> tuple[Any] | None:
                return (current,) if node is placeholder else None
        elif not inline and len(names) == 1 and next(iter(names)) in bindings:
            name = next(iter(names))
            bound = self.markers.get(bindings[name])
            if bound is None:
                return None
            marker = bound
            if not _same_context(marker.context, _without(context, marker)):
                self._warn(
                    f"`{name}` is drawn under other conditions than this `if`, so its branches "
                    "are not conditional: their markers are sampled on every trial",
                    test,
                )
                return None

            def substitute(node: ast.expr) -> tuple[Any] | None:
                return (current,) if isinstance(node, ast.Name) and node.id == name else None
        else:
            return None

        if marker.distribution not in CATEGORICAL or not all(o.literal for o in marker.options):
            self._warn(
                "only a choice among literal values makes branches conditional; markers in "
                "these branches are sampled on every trial",
                test,
            )
            return None
        taken: list[int] = []
        not_taken: list[int] = []
        for index, option in enumerate(marker.options):
            current = option.value
            try:
                passed = evaluate_literal_test(test, substitute)
            except (ValueError, TypeError, ArithmeticError):
                return None
            (taken if passed else not_taken).append(index)
        return marker, tuple(taken), tuple(not_taken)

    def _hyperparameter(self, marker: Marker) -> Hyperparameter:
        return Hyperparameter(
            name=marker.name,
            distribution=marker.distribution,
            args=marker.args,
            options=marker.options,
            conditions=tuple(Condition(m.name, indices) for m, indices in marker.context),
            integer=marker.integer,
            line=marker.line,
            col=marker.col,
        )


def _without(context: Context, marker: Marker) -> Context:
    """``context`` less a last entry on ``marker`` (left by an enclosing ``if`` on it)."""
    if context and context[-1][0] is marker:
        return context[:-1]
    return context


def _same_context(a: Context, b: Context) -> bool:
    pairs = zip(a, b, strict=False)
    return len(a) == len(b) and all(x[0] is y[0] and x[1] == y[1] for x, y in pairs)


def _bindings(scope: ast.AST, module: bool) -> dict[str, ast.Set]:
    """Names assigned exactly once in ``scope``, from a marker: ``n_layers = {{choice(...)}}``."""
    stores = _stores(scope, module)
    assigned: dict[str, ast.Set] = {}
    for node in _walk_scope(scope, module):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and is_marker(node.value)
        ):
            assert isinstance(node.value, ast.Set)
            assigned[node.targets[0].id] = node.value
    return {name: marker for name, marker in assigned.items() if stores[name] == 1}


def _stores(scope: ast.AST, module: bool) -> Counter[str]:
    """How many times each name is bound in ``scope`` (``global`` and ``nonlocal`` count twice)."""
    stores: Counter[str] = Counter()
    for node in _walk_scope(scope, module):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            stores[node.id] += 1
        elif isinstance(node, ast.arg):
            stores[node.arg] += 1
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                stores[(alias.asname or alias.name).split(".")[0]] += 1
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                stores[name] += 2
    return stores


def _free_names(node: ast.AST) -> set[str]:
    """Names read in ``node``, outside markers."""
    if is_marker(node):
        return set()
    names = {node.id} if isinstance(node, ast.Name) else set()
    for child in ast.iter_child_nodes(node):
        names |= _free_names(child)
    return names


def _walk_scope(scope: ast.AST, module: bool) -> Iterator[ast.AST]:
    """Every node of ``scope``; at module level, without descending into functions and classes."""
    stack = [scope]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            skip = module and isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
            )
            if not skip:
                stack.append(child)
