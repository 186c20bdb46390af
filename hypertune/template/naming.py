"""Readable, stable names for markers, derived from where they stand in the code.

- ``units = {{...}}`` is ``units``; ``{'lr': {{...}}}`` is ``lr``;
- a keyword of a call is ``<Callee>_<k>.<keyword>``, where ``k`` counts the calls to that callee
  in the same top-level function (``Dense_2.units``, ``Adam_1.learning_rate``); keywords of
  ``compile`` and ``fit`` keep their own name (``optimizer``, ``batch_size``);
- a positional argument uses the parameter's name where hypertune knows it (``Dense(...)`` feeds
  ``units``; a function defined in the template itself names its own parameters), else
  ``arg<i>``; a marker passed to ``model.add`` is ``layer_<k>``;
- a marker in an ``if`` test is ``branch_<k>``, in a ``for`` header ``loop_<k>``, where ``k``
  counts the tests or headers holding markers;
- an option of a choice nested in another is ``<parent>.<i>``;
- anything else is ``param_<k>``.

Counting within a top-level function keeps names unchanged by edits elsewhere in the file; an
explicit ``name='...'`` keeps a name fixed whatever changes.
"""

from __future__ import annotations

import ast
from collections import defaultdict

from hypertune.template.markers import Marker, MarkerError, is_marker

#: The first positional parameters of common Keras callables, for readable names.
POSITIONAL_PARAMETERS: dict[str, tuple[str, ...]] = {
    "Dense": ("units", "activation"),
    "Dropout": ("rate",),
    "SpatialDropout1D": ("rate",),
    "SpatialDropout2D": ("rate",),
    "GaussianDropout": ("rate",),
    "AlphaDropout": ("rate",),
    "GaussianNoise": ("stddev",),
    "Activation": ("activation",),
    "LeakyReLU": ("negative_slope",),
    "Conv1D": ("filters", "kernel_size", "strides"),
    "Conv2D": ("filters", "kernel_size", "strides"),
    "Conv3D": ("filters", "kernel_size", "strides"),
    "MaxPooling1D": ("pool_size", "strides"),
    "MaxPooling2D": ("pool_size", "strides"),
    "AveragePooling2D": ("pool_size", "strides"),
    "LSTM": ("units",),
    "GRU": ("units",),
    "SimpleRNN": ("units",),
    "Embedding": ("input_dim", "output_dim"),
    "BatchNormalization": ("axis", "momentum", "epsilon"),
    "SGD": ("learning_rate", "momentum"),
    "Adam": ("learning_rate",),
    "AdamW": ("learning_rate",),
    "RMSprop": ("learning_rate",),
    "Adagrad": ("learning_rate",),
    "Adadelta": ("learning_rate",),
    "Adamax": ("learning_rate",),
    "Nadam": ("learning_rate",),
    "RandomNormal": ("mean", "stddev"),
    "RandomUniform": ("minval", "maxval"),
    "TruncatedNormal": ("mean", "stddev"),
    "L1": ("l1",),
    "L2": ("l2",),
    "l1": ("l1",),
    "l2": ("l2",),
}

#: Methods whose keywords are unique per model and so keep their plain name.
PLAIN_KEYWORD_METHODS = frozenset({"compile", "fit"})
FIT_POSITIONAL = ("x", "y", "batch_size", "epochs")


def assign_names(markers: list[Marker], tree: ast.Module, model_function: str) -> None:
    """Set ``marker.name`` for every marker (in source order), unique across the template.

    Markers in a top-level function other than the model function get its name as a prefix
    (``block.Dense_1.units``), so helpers never rename the model function's markers.
    """
    namer = _Namer(tree, model_function)
    taken: dict[str, Marker] = {}
    for marker in markers:
        if marker.explicit_name is None:
            continue
        other = taken.get(marker.explicit_name)
        if other is not None:
            raise MarkerError(
                f"the name '{marker.explicit_name}' is already used by the marker at line "
                f"{other.line}; give each marker its own name",
                marker.node,
            )
        marker.name = marker.explicit_name
        taken[marker.name] = marker

    for marker in markers:
        if marker.explicit_name is not None:
            continue
        base = namer.derive(marker)
        name, suffix = base, 2
        while name in taken:
            name = f"{base}_{suffix}"
            suffix += 1
        marker.name = name
        taken[name] = marker


class _Namer:
    def __init__(self, tree: ast.Module, model_function: str):
        self.model_function = model_function
        self.parents: dict[ast.AST, ast.AST] = {}
        self.scope_of: dict[ast.AST, ast.AST] = {}
        for statement in tree.body:
            scope = statement if isinstance(statement, _SCOPES) else tree
            for node in ast.walk(statement):
                self.scope_of[node] = scope
                for child in ast.iter_child_nodes(node):
                    self.parents[child] = node
        self.counters: dict[tuple[ast.AST, str], list[ast.AST]] = defaultdict(list)
        for node in sorted(self.scope_of, key=_position):
            key = self._counter_key(node)
            if key is not None:
                self.counters[(self.scope_of[node], key)].append(node)
        self.option_parents: dict[ast.AST, tuple[Marker, int]] = {}
        self.fallbacks = 0
        self.local_parameters = {
            statement.name: tuple(
                a.arg for a in [*statement.args.posonlyargs, *statement.args.args]
            )
            for statement in tree.body
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef))
        }

    def _counter_key(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Call):
            callee = _callee(node)
            return f"call:{callee}" if callee else None
        if isinstance(node, (ast.If, ast.IfExp, ast.While)) and _holds_marker(node.test):
            return "branch"
        if isinstance(node, ast.For) and _holds_marker(node.iter):
            return "loop"
        return None

    def _ordinal(self, node: ast.AST, key: str) -> int:
        return self.counters[(self.scope_of[node], key)].index(node) + 1

    def derive(self, marker: Marker) -> str:
        for index, option in enumerate(marker.option_nodes):
            self.option_parents[option] = (marker, index)
        child: ast.AST = marker.node
        while True:
            if child in self.option_parents:
                parent_marker, index = self.option_parents[child]
                return f"{parent_marker.name}.{index}"
            parent = self.parents.get(child)
            if parent is None:
                break
            name = self._name_at(child, parent)
            if name is not None:
                return self._prefix(marker) + name
            if not isinstance(parent, _TRANSPARENT):
                break
            child = parent
        self.fallbacks += 1
        return f"{self._prefix(marker)}param_{self.fallbacks}"

    def _prefix(self, marker: Marker) -> str:
        scope = self.scope_of.get(marker.node)
        if isinstance(scope, _SCOPES) and scope.name != self.model_function:
            return f"{scope.name}."
        return ""

    def _name_at(self, child: ast.AST, parent: ast.AST) -> str | None:
        if isinstance(parent, ast.keyword) and parent.arg:
            call = self.parents[parent]
            assert isinstance(call, ast.Call)
            callee = _callee(call)
            if callee in PLAIN_KEYWORD_METHODS and isinstance(call.func, ast.Attribute):
                return parent.arg
            if callee:
                return f"{callee}_{self._ordinal(call, f'call:{callee}')}.{parent.arg}"
            return parent.arg
        if isinstance(parent, ast.Call) and child in parent.args:
            return self._positional_name(parent, parent.args.index(child))
        if (
            isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign))
            and child is parent.value
        ):
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            if len(targets) == 1:
                return _target_name(targets[0])
        if isinstance(parent, ast.Dict) and child in parent.values:
            key = parent.keys[parent.values.index(child)]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                return key.value
        if isinstance(parent, (ast.If, ast.IfExp, ast.While)) and child is parent.test:
            return f"branch_{self._ordinal(parent, 'branch')}"
        if isinstance(parent, ast.For) and child is parent.iter:
            return f"loop_{self._ordinal(parent, 'loop')}"
        return None

    def _positional_name(self, call: ast.Call, index: int) -> str | None:
        callee = _callee(call)
        if callee is None:
            return None
        if isinstance(call.func, ast.Attribute) and callee == "add":
            return f"layer_{self._ordinal(call, 'call:add')}"
        if (
            isinstance(call.func, ast.Attribute)
            and callee == "fit"
            and index < len(FIT_POSITIONAL)
        ):
            return FIT_POSITIONAL[index]
        if isinstance(call.func, ast.Name) and callee in ("conditional", "range"):
            return None
        if isinstance(call.func, ast.Name) and callee in self.local_parameters:
            known = self.local_parameters[callee]
        else:
            known = POSITIONAL_PARAMETERS.get(callee, ())
        parameter = known[index] if index < len(known) else f"arg{index}"
        return f"{callee}_{self._ordinal(call, f'call:{callee}')}.{parameter}"


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

#: Expression nodes a name is looked for through: ``x = 2 * {{...}}`` still names ``x``.
_TRANSPARENT = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Starred, ast.Call)


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _target_name(target: ast.expr) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if (
        isinstance(target, ast.Subscript)
        and isinstance(target.slice, ast.Constant)
        and isinstance(target.slice.value, str)
    ):
        return target.slice.value
    return None


def _holds_marker(node: ast.AST) -> bool:
    return any(is_marker(n) for n in ast.walk(node))


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
