"""Fill a template's markers with values, and run the result.

Filling splices text: each marker's characters are replaced by the chosen value (or, for a
choice, by the option's own code, itself filled), so comments and layout survive and
``hypertune space --render`` shows the user's code as written. Running parses the filled text
again, drops imports of Hyperas (which cannot be imported on Keras 3) and wires hypertune's
callbacks into ``.fit(...)`` calls.
"""

from __future__ import annotations

import ast
import builtins
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypertune.space import Params, SearchSpace

if TYPE_CHECKING:
    from hypertune.template.markers import Marker


@dataclass(frozen=True)
class Span:
    """Where a marker (and each of its options) stands in the source, as character offsets."""

    name: str
    start: int
    end: int
    options: tuple[tuple[int, int, bool], ...] = ()
    #: The marker stands where a value that is not atomic (``-1``, ``a + b``) needs parentheses.
    parenthesize: bool = False


def spans(source: str, tree: ast.Module, markers: Sequence[Marker]) -> tuple[Span, ...]:
    """The spans of ``markers``, whose names are already assigned."""
    offsets = _Offsets(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for marker in markers:
        options = tuple((*offsets.span(node), _atomic(node)) for node in marker.option_nodes)
        parenthesize = _needs_parentheses(marker.node, parents.get(marker.node))
        found.append(Span(marker.name, *offsets.span(marker.node), options, parenthesize))
    return tuple(sorted(found, key=lambda s: s.start))


def _needs_parentheses(node: ast.AST, parent: ast.AST | None) -> bool:
    """Whether a value that is not atomic must be wrapped to keep its meaning where ``node`` is."""
    if isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Await)):
        return True
    if isinstance(parent, (ast.Attribute, ast.Subscript)):
        return parent.value is node
    if isinstance(parent, ast.Call):
        return parent.func is node
    return False


def fill(source: str, spans: tuple[Span, ...], space: SearchSpace, params: Params) -> str:
    """``source`` with every marker replaced by its value in ``params`` (None when inactive)."""
    return _fill(source, spans, space, params, 0, len(source))


def _fill(
    source: str, spans: tuple[Span, ...], space: SearchSpace, params: Params, start: int, end: int
) -> str:
    pieces = []
    position = start
    for span in spans:
        if span.start < position or span.end > end:
            continue
        pieces.append(source[position : span.start])
        pieces.append(_value_text(source, spans, space, params, span))
        position = span.end
    pieces.append(source[position:end])
    return "".join(pieces)


def _value_text(
    source: str, spans: tuple[Span, ...], space: SearchSpace, params: Params, span: Span
) -> str:
    if span.name not in params:
        return "None"
    hp = space[span.name]
    value = params[span.name]
    if hp.categorical:
        index = hp.option_index(value)
        assert index is not None, f"{span.name} = {value!r} is not an option"
        option_start, option_end, atomic = span.options[index]
        text = _fill(source, spans, space, params, option_start, option_end)
    else:
        text = repr(value)
        atomic = value >= 0
    return f"({text})" if span.parenthesize and not atomic else text


def _atomic(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return not (isinstance(node.value, (int, float)) and node.value < 0)
    return isinstance(
        node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.List, ast.Dict, ast.Set)
    )


class _Offsets:
    """Converts the AST's (line, UTF-8 byte column) positions into character offsets."""

    def __init__(self, source: str):
        # Python ends lines only at \n, \r\n and \r; str.splitlines also ends them at \f, \x1c,
        # \u2028 and others, which would shift every offset after such a character.
        self.lines = io.StringIO(source, newline="").readlines()
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, line: int, byte_col: int) -> int:
        text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        return self.starts[line - 1] + len(text.encode()[:byte_col].decode(errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end


# -- running ---------------------------------------------------------------------------------


def execute(path: str, code: str, function: str, hooks: Any = None) -> dict[str, Any]:
    """Run filled template code as a fresh module; return its namespace.

    With ``hooks``, the ``.fit(...)`` calls inside ``function`` get hypertune's callbacks.
    """
    tree = _Runnable(function if hooks is not None else None).visit(ast.parse(code, path))
    ast.fix_missing_locations(tree)
    namespace: dict[str, Any] = {
        "__name__": "__hypertune_template__",
        "__file__": path,
        "__builtins__": builtins,
        "__hypertune__": hooks,
        "conditional": _identity,
    }
    exec(compile(tree, path, "exec"), namespace)
    return namespace


def _identity(value: Any) -> Any:
    """Hyperas's ``conditional()``: it only marks a choice used in an ``if`` test."""
    return value


class _Runnable(ast.NodeTransformer):
    def __init__(self, function: str | None):
        self.function = function
        self.wire_fit = False

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        outer = self.wire_fit
        self.wire_fit = outer or node.name == self.function
        self.generic_visit(node)
        self.wire_fit = outer
        return node

    def visit_Import(self, node: ast.Import) -> ast.stmt:
        kept = [a for a in node.names if not _is_hyperas(a.name)]
        if not kept:
            return ast.copy_location(ast.Pass(), node)
        node.names = kept
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.stmt:
        if node.level == 0 and node.module and _is_hyperas(node.module):
            return ast.copy_location(ast.Pass(), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        if not (
            self.wire_fit and isinstance(node.func, ast.Attribute) and node.func.attr == "fit"
        ):
            return node
        keywords = {k.arg: k for k in node.keywords if k.arg}
        for name in ("callbacks", "verbose"):
            given = keywords[name].value if name in keywords else ast.Constant(None)
            wired = ast.Call(
                func=ast.Attribute(ast.Name("__hypertune__", ast.Load()), name, ast.Load()),
                args=[given],
                keywords=[],
            )
            if name in keywords:
                keywords[name].value = wired
            else:
                node.keywords.append(ast.keyword(name, wired))
        return node


def _is_hyperas(module: str) -> bool:
    return module == "hyperas" or module.startswith("hyperas.")
