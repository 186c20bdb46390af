"""Recognize ``{{...}}`` markers in a syntax tree and read their distribution and arguments.

A marker is valid Python: a set literal holding a set literal holding one call,
``{{uniform(0, 1)}}``. Arguments are read without running anything: numbers (with ``log``,
``exp`` and arithmetic allowed, as in ``loguniform(log(1e-4), log(1e-1))``) and, for ``choice``,
a list of options whose code is kept as written.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypertune.space import CATEGORICAL, DISTRIBUTIONS, Option, format_value

#: What an explicit ``name=`` may hold: it becomes an MLflow param key.
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/")


class MarkerError(Exception):
    """A malformed marker; ``node`` is where to point the user."""

    def __init__(self, message: str, node: ast.AST):
        super().__init__(message)
        self.node = node


#: Reports something that compiles but is probably not what was meant, at a node.
Warn = Callable[[str, ast.AST], None]


@dataclass
class Marker:
    """One marker as found in the source, before it is named."""

    node: ast.Set
    distribution: str
    args: dict[str, float] = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    option_nodes: tuple[ast.expr, ...] = ()
    integer: bool = False
    explicit_name: str | None = None
    #: Chain of (marker, option indices) that must hold for this marker to be active.
    context: tuple[tuple[Marker, tuple[int, ...]], ...] = ()
    name: str = ""

    @property
    def line(self) -> int:
        return self.node.lineno

    @property
    def col(self) -> int:
        return self.node.col_offset


def is_marker(node: ast.AST) -> bool:
    """Whether ``node`` is ``{{...}}``: a one-element set whose element is a set."""
    return isinstance(node, ast.Set) and len(node.elts) == 1 and isinstance(node.elts[0], ast.Set)


def outer_markers(node: ast.AST) -> Iterator[ast.Set]:
    """The markers in ``node``'s subtree that are not inside another marker, in source order."""
    if is_marker(node):
        assert isinstance(node, ast.Set)
        yield node
        return
    for child in ast.iter_child_nodes(node):
        yield from outer_markers(child)


def read_marker(node: ast.Set, source: str, warn: Warn) -> Marker:
    """Parse one marker; nested markers inside ``choice`` options are left for the caller."""
    inner = node.elts[0]
    assert isinstance(inner, ast.Set)
    if len(inner.elts) != 1:
        raise MarkerError(
            "a marker holds exactly one distribution, like {{choice([64, 128])}}", node
        )
    call = inner.elts[0]
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        got = ast.get_source_segment(source, call) or ast.dump(call)
        raise MarkerError(
            f"a marker holds a distribution call such as {{{{uniform(0, 1)}}}}, but got `{got}`",
            node,
        )
    distribution = call.func.id
    if distribution not in DISTRIBUTIONS:
        known = ", ".join(DISTRIBUTIONS)
        raise MarkerError(f"unknown distribution '{distribution}'; use one of: {known}", call)

    explicit_name = _read_name_keyword(call, distribution)
    if distribution in CATEGORICAL:
        options, option_nodes = _read_options(call, distribution, source)
        return Marker(
            node,
            distribution,
            options=options,
            option_nodes=option_nodes,
            explicit_name=explicit_name,
        )
    args, integer = _read_numbers(call, distribution, warn)
    return Marker(node, distribution, args=args, integer=integer, explicit_name=explicit_name)


def _read_name_keyword(call: ast.Call, distribution: str) -> str | None:
    name = None
    for keyword in call.keywords:
        if keyword.arg != "name":
            raise MarkerError(
                f"{distribution}() takes no keyword '{keyword.arg}'; the only keyword a marker "
                "takes is name='...'",
                keyword.value,
            )
        if not (isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str)):
            raise MarkerError("name= must be a string literal, like name='units'", keyword.value)
        name = keyword.value.value
        if not name or not set(name) <= NAME_CHARACTERS:
            raise MarkerError(
                f"name={name!r} may hold only letters, digits and _ . - / (it becomes an MLflow "
                "param key)",
                keyword.value,
            )
    if (
        call.args
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    ) and (distribution not in CATEGORICAL or len(call.args) > 1):
        raise MarkerError(
            f"{distribution}() takes no label: hypertune names markers itself; to choose the "
            "name, write name='...' as a keyword",
            call.args[0],
        )
    return name


def _read_options(
    call: ast.Call, distribution: str, source: str
) -> tuple[tuple[Option, ...], tuple[ast.expr, ...]]:
    example = "[64, 128, 256]" if distribution == "choice" else "[(0.7, 'relu'), (0.3, 'tanh')]"
    if len(call.args) != 1 or not isinstance(call.args[0], (ast.List, ast.Tuple)):
        raise MarkerError(
            f"{distribution}() takes one list of options, like {distribution}({example})", call
        )
    elements = call.args[0].elts
    if not elements:
        raise MarkerError(f"{distribution}() needs at least one option, like {example}", call)

    options: list[Option] = []
    nodes: list[ast.expr] = []
    for element in elements:
        probability = None
        option_node = element
        if distribution == "pchoice":
            if not (isinstance(element, ast.Tuple) and len(element.elts) == 2):
                raise MarkerError(
                    f"each pchoice option is a pair (probability, option), like {example}", element
                )
            probability = evaluate_number(element.elts[0])
            if not 0.0 <= probability <= 1.0:
                raise MarkerError(
                    f"a probability lies in [0, 1], but got {probability:g}", element
                )
            option_node = element.elts[1]
        options.append(_option(option_node, source, probability))
        nodes.append(option_node)

    seen: dict[str, ast.expr] = {}
    for option, node in zip(options, nodes, strict=True):
        key = format_value(option.value) if option.literal else option.source
        if key in seen:
            raise MarkerError(
                f"the option {option.source} appears twice in {distribution}() (or reads the same "
                "as another once logged); options must be distinct",
                node,
            )
        seen[key] = node
    if distribution == "pchoice":
        total = sum(o.probability or 0.0 for o in options)
        if abs(total - 1.0) > 1e-6:
            raise MarkerError(
                f"pchoice probabilities must sum to 1, but they sum to {total:g}", call
            )
    return tuple(options), tuple(nodes)


def _option(node: ast.expr, source: str, probability: float | None) -> Option:
    text = ast.get_source_segment(source, node) or ast.unparse(node)
    if not any(is_marker(n) for n in ast.walk(node)):
        try:
            return Option(text, ast.literal_eval(node), True, probability)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
    return Option(text, text, False, probability)


def _read_numbers(call: ast.Call, distribution: str, warn: Warn) -> tuple[dict[str, float], bool]:
    wanted = DISTRIBUTIONS[distribution]
    given = list(call.args)
    for arg in given:
        nested = next(outer_markers(arg), None)
        if nested is not None:
            raise MarkerError(
                f"a marker inside the arguments of {distribution}() has no meaning; its "
                "arguments must be numbers",
                nested,
            )
    if distribution == "randint" and len(given) == 1:
        given = [ast.Constant(0), given[0]]
    if distribution == "uniformint" and len(given) == 3:
        given = given[:2]
    if len(given) != len(wanted):
        signature = ", ".join(wanted)
        raise MarkerError(
            f"{distribution}() takes {len(wanted)} numbers ({signature}), but got "
            f"{len(call.args)}",
            call,
        )
    args = {name: evaluate_number(arg) for name, arg in zip(wanted, given, strict=True)}
    _check_numbers(distribution, args, call, warn)
    integer = distribution in ("randint", "uniformint")
    if "q" in args:
        q_node = given[wanted.index("q")]
        integer = isinstance(q_node, ast.Constant) and isinstance(q_node.value, int)
    return args, integer


def _check_numbers(distribution: str, args: dict[str, float], call: ast.Call, warn: Warn) -> None:
    if "low" in args and not args["low"] < args["high"]:
        raise MarkerError(
            f"{distribution}(low, high) needs low < high, but got low={args['low']:g}, "
            f"high={args['high']:g}; swap them",
            call,
        )
    if "sigma" in args and args["sigma"] <= 0:
        raise MarkerError(f"{distribution}() needs sigma > 0, but got {args['sigma']:g}", call)
    if "q" in args and args["q"] <= 0:
        raise MarkerError(f"{distribution}() needs q > 0, but got q={args['q']:g}", call)
    if distribution in ("randint", "uniformint") and not all(
        float(args[k]).is_integer() for k in ("low", "high")
    ):
        raise MarkerError(f"{distribution}() takes whole-number bounds", call)
    if distribution in ("loguniform", "qloguniform") and args["low"] > 0 and args["high"] <= 1:
        low, high = args["low"], args["high"]
        warn(
            f"{distribution}({low:g}, {high:g}) samples exp(uniform) between "
            f"{math.exp(low):.3g} and {math.exp(high):.3g}; for values between {low:g} and "
            f"{high:g} write {distribution}(log({low:g}), log({high:g}))",
            call,
        )


_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "log": math.log,
    "log2": math.log2,
    "log10": math.log10,
    "exp": math.exp,
    "sqrt": math.sqrt,
}
_MODULES = frozenset({"math", "np", "numpy"})


def evaluate_number(node: ast.expr) -> float:
    """Evaluate a numeric argument without running user code."""
    try:
        value = _evaluate(node)
    except (ArithmeticError, ValueError) as error:
        raise MarkerError(f"cannot evaluate this number: {error}", node) from None
    if not math.isfinite(value):
        raise MarkerError("this number is not finite", node)
    return value


def _evaluate(node: ast.expr) -> float:
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        value = _BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right))
        if isinstance(value, complex):
            raise MarkerError("a negative number to a fractional power is not a real number", node)
        return value
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        function = node.func
        name = None
        if isinstance(function, ast.Name):
            name = function.id
        elif (
            isinstance(function, ast.Attribute)
            and isinstance(function.value, ast.Name)
            and function.value.id in _MODULES
        ):
            name = function.attr
        if name in _FUNCTIONS:
            return _FUNCTIONS[name](_evaluate(node.args[0]))
    raise MarkerError(
        "expected a number here (literals, + - * / **, log, exp and sqrt are allowed)", node
    )


def evaluate_literal_test(node: ast.expr, substitute: Callable[[ast.expr], Any | None]) -> Any:
    """Evaluate an ``if`` test made of literals and one substituted value.

    ``substitute`` returns a one-element tuple holding the value that stands for ``node``, or None
    when ``node`` is not the placeholder. Raises ValueError for anything that is not literal.
    """
    found = substitute(node)
    if found is not None:
        return found[0]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return tuple(evaluate_literal_test(e, substitute) for e in node.elts)
    if isinstance(node, ast.UnaryOp):
        operand = evaluate_literal_test(node.operand, substitute)
        if isinstance(node.op, ast.Not):
            return not operand
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return +operand
    if isinstance(node, ast.BoolOp):
        values = [evaluate_literal_test(v, substitute) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare):
        left = evaluate_literal_test(node.left, substitute)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = evaluate_literal_test(right_node, substitute)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "conditional"
        and len(node.args) == 1
    ):
        return evaluate_literal_test(node.args[0], substitute)
    raise ValueError("not a literal test")


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
