"""Elementwise partials written into a replay program as expressions instead of calls.

A rule's partial is usually a one-line lambda (``lambda o, x: np.cos(x)``). Called from
a replay program it costs a Python frame, and inside it a global and an attribute lookup,
on every call; written in place (``f_3(v0)``, each name it reads resolved to its object
when the program is written) it costs neither: about 0.2 us a partial, 8 % of the
prepared Jacobian of a 4-operation chain at n = 10.

The lambda's source is found on its line of its file, and the compiled code of each lambda
there compared with the function's own, so what is written is exactly what the rule
computes. Anything not plainly an expression of its parameters and of names the module
defines (closures, defaults, comprehensions, a source that cannot be found) keeps the call.

>>> import numpy as np
>>> from dualad.replay.codegen import Source
>>> code = Source()
>>> inlined(lambda o, x: 1.0 - o * np.tanh(x), ["v2", "v1"], code)
'(1.0 - v2 * g_0(v1))'
>>> code.namespace["g_0"] is np.tanh
True
"""
from __future__ import annotations

import ast
import builtins
import copy
import linecache
import types
from typing import Callable

import numpy as np

__all__ = ["inlined", "lambda_body"]

_LINES: dict = {}   # (file name, line number) -> the lambdas written whole on that line
_BODIES: dict = {}  # id(code) -> (code, the lambda's body or None)
_REFUSED = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.NamedExpr, ast.Yield,
            ast.YieldFrom, ast.Await, ast.Starred)


def _lambdas_on(filename: str, lineno: int) -> list:
    """The lambda expressions that start and end on line ``lineno`` of the file: from each ``lambda``
    keyword, the longest piece of the line that parses as one lambda (a few parses of a short string,
    not the whole module: the first replay program stays quick to write). A lambda whose body goes on
    to the next line is not found (its partial is called)."""
    key = (filename, lineno)
    hit = _LINES.get(key)
    if hit is not None:
        return hit
    line = linecache.getline(filename, lineno)
    found = []
    start = line.find("lambda")
    while start >= 0:
        best = None
        for end in [k for k, ch in enumerate(line) if k > start and ch in ",)]}\n"] + [len(line)]:
            try:
                tree = ast.parse(line[start:end].strip(), mode="eval")
            except SyntaxError:
                continue
            if isinstance(tree.body, ast.Lambda):
                best = tree.body
        if best is not None:
            found.append(best)
        start = line.find("lambda", start + 6)
    _LINES[key] = found
    return found


def _fingerprint(code: types.CodeType) -> tuple:
    """What a lambda's code reads: parameters, names, constants (bytecode itself differs between
    compilations: specialised or not)."""
    return (code.co_names, code.co_varnames, code.co_argcount, tuple((type(c), repr(c)) for c in code.co_consts))


def _compiled(node: ast.Lambda, filename: str):
    try:
        outer = compile(ast.Expression(body=node), filename, "eval")
    except (SyntaxError, ValueError, TypeError):
        return None
    inner = [c for c in outer.co_consts if isinstance(c, types.CodeType)]
    return inner[0] if len(inner) == 1 else None


def lambda_body(fn: Callable):
    """The body of the lambda ``fn`` as an AST expression, or None if it is not one that can be written
    in place (not a lambda, a closure, defaults, ``*args``, a comprehension or a nested lambda inside,
    no source)."""
    if type(fn) is not types.FunctionType or fn.__name__ != "<lambda>":
        return None
    code = fn.__code__
    hit = _BODIES.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1]
    body = None
    plain = not (code.co_flags & 0x0C) and not code.co_freevars and not code.co_kwonlyargcount \
        and fn.__defaults__ is None and not fn.__kwdefaults__
    if plain:
        # the lambdas on its line that read the same parameters, names and constants: one, or several
        # written alike (then any of them is it); lambdas alike in all that but written differently
        # (x - y, y - x) cannot be told apart here, and keep the call
        want = _fingerprint(code)
        found = [node for node in _lambdas_on(code.co_filename, code.co_firstlineno)
                 if (c := _compiled(node, code.co_filename)) is not None and _fingerprint(c) == want]
        if found and len({ast.dump(node.body) for node in found}) == 1 \
                and not any(isinstance(sub, _REFUSED) for sub in ast.walk(found[0].body)):
            body = found[0].body
    _BODIES[id(code)] = (code, body)
    return body


class _Unresolved(Exception):
    pass


_TEMPLATES: dict = {}  # id(code) -> (code, (text with placeholders, objects) or None)


def _template(fn: Callable):
    """``fn``'s body as text once per function: parameter k written ``@pk@``, the j-th object it names
    (a global, a module attribute) ``@gj@``; with the objects. None if it cannot be written in place."""
    code_object = fn.__code__
    hit = _TEMPLATES.get(id(code_object))
    if hit is not None and hit[0] is code_object:
        return hit[1]
    body = lambda_body(fn)
    answer = None if body is None else _written(fn, copy.deepcopy(body), {})
    _TEMPLATES[id(code_object)] = (code_object, answer)
    return answer


_TYPED: dict = {}  # (id(code), kinds of the arguments) -> (code, template or None)
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_LITERAL_PREFIX = "_dualad_literal_"


def _kind(value) -> tuple:
    return type(value), getattr(value, "dtype", None), np.ndim(value)


def _typed_template(fn: Callable, values: tuple):
    """``fn``'s template with each number literal that is an operand of ``+ - * /`` next to an array
    (an ndarray of a float or complex dtype at the recorded ``values``) written as a 0-d array of that
    dtype: numpy then runs the same loop on the same numbers (a Python number takes the array's dtype,
    NEP 50) without converting the Python number on every call (0.1-0.2 us each on short arrays). The
    dtypes depend only on the arguments' types, dtypes and dimensions, so the template is made once for
    each such kind of arguments."""
    code_object = fn.__code__
    key = (id(code_object), tuple(_kind(v) for v in values))
    hit = _TYPED.get(key)
    if hit is not None and hit[0] is code_object:
        return hit[1]
    answer = _template(fn)
    body = lambda_body(fn)
    if answer is not None and body is not None:
        params = code_object.co_varnames[:code_object.co_argcount]
        local = dict(zip(params, values))

        def evaluated(node):
            try:
                with np.errstate(all="ignore"):
                    return eval(compile(ast.Expression(body=node), "<partial>", "eval"), fn.__globals__, local)
            except Exception:  # noqa: BLE001 - the literal then stays a Python number
                return None
        body = copy.deepcopy(body)
        literals: dict = {}
        for node in ast.walk(body):
            if not (isinstance(node, ast.BinOp) and isinstance(node.op, _ARITHMETIC)):
                continue
            for side, other in (("left", node.right), ("right", node.left)):
                number = getattr(node, side)
                if not (isinstance(number, ast.Constant) and type(number.value) in (int, float)):
                    continue
                operand = evaluated(other)
                if type(operand) is np.ndarray and operand.ndim >= 1 and operand.dtype.kind in "fc":
                    name = f"{_LITERAL_PREFIX}{len(literals)}"
                    constant = np.array(number.value, dtype=operand.dtype)
                    constant.flags.writeable = False
                    literals[name] = local[name] = constant  # readable by the next evaluations
                    setattr(node, side, ast.copy_location(ast.Name(id=name, ctx=ast.Load()), number))
        if literals:
            answer = _written(fn, body, literals)
    _TYPED[key] = (code_object, answer)
    return answer


def _written(fn: Callable, body, literals: dict):
    """The template (text with placeholders, objects) of the lambda body ``body`` (changed in place);
    names in ``literals`` stand for those objects. None if a name cannot be resolved."""
    code_object = fn.__code__
    params = code_object.co_varnames[:code_object.co_argcount]
    slot = {name: f"@p{k}@" for k, name in enumerate(params)}
    namespace = fn.__globals__
    objects: list = []

    def resolve(node):
        """The object a global name or a module attribute chain stands for (raises _Unresolved)."""
        if isinstance(node, ast.Name):
            if node.id in slot:
                raise _Unresolved
            if node.id in namespace:
                return namespace[node.id]
            if hasattr(builtins, node.id):
                return getattr(builtins, node.id)
            raise _Unresolved
        if isinstance(node, ast.Attribute):
            base = resolve(node.value)
            if not isinstance(base, types.ModuleType) or not hasattr(base, node.attr):
                raise _Unresolved
            return getattr(base, node.attr)
        raise _Unresolved

    def placeholder(obj) -> str:
        for j, known in enumerate(objects):
            if known is obj:
                return f"@g{j}@"
        objects.append(obj)
        return f"@g{len(objects) - 1}@"

    class Rewrite(ast.NodeTransformer):
        def visit_Name(self, node):
            if node.id in literals:
                text = placeholder(literals[node.id])
            else:
                text = slot[node.id] if node.id in slot else placeholder(resolve(node))
            return ast.copy_location(ast.Name(id=text, ctx=ast.Load()), node)

        def visit_Attribute(self, node):
            try:
                obj = resolve(node)
            except _Unresolved:
                return self.generic_visit(node)  # an attribute of a value (x.real): kept as written
            return ast.copy_location(ast.Name(id=placeholder(obj), ctx=ast.Load()), node)

    try:
        return "(" + ast.unparse(Rewrite().visit(body)) + ")", tuple(objects)
    except _Unresolved:
        return None


def inlined(fn: Callable, args: list, code, values: tuple | None = None) -> str | None:
    """``fn(*args)`` as one parenthesised expression for a program written in ``code`` (a
    :class:`~.codegen.Source`): the parameters replaced by ``args`` (names in the program, or ``None``
    for a parameter the body never reads), every other name by a constant of ``code``'s namespace.
    None if ``fn`` cannot be written in place. The text is made once per function (a template), so a
    program with thousands of partials is written as fast as with calls. ``values``: the arguments
    ``fn`` was recorded with; if given, number literals next to arrays become 0-d arrays of the
    array's dtype (see :func:`_typed_template`)."""
    if type(fn) is not types.FunctionType:
        return None
    if values is not None and len(values) == fn.__code__.co_argcount:
        template = _typed_template(fn, tuple(values))
    else:
        template = _template(fn)
    if template is None:
        return None
    text, objects = template
    if len(args) != fn.__code__.co_argcount or not all(isinstance(a, str) and a.isidentifier() for a in args):
        return None
    for k, a in enumerate(args):
        text = text.replace(f"@p{k}@", a)
    for j, obj in enumerate(objects):
        text = text.replace(f"@g{j}@", code.const(obj, "g"))
    return text
