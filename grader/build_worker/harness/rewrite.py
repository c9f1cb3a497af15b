"""Two small changes to the student's statements before they are compiled.

1. Overrides: an assignment to an overridden module-level name (``MODEL_NUMBER = 1``,
   at top level, inside a top-level ``if``/``for``/``try``, or in a function that
   declares it ``global``) assigns the run's value instead, and its right-hand side is
   not evaluated (``MODEL_NUMBER = int(sys.argv[1])`` does not raise). Assignments
   that bind other names too (``A, MODEL_NUMBER = 1, 2``, ``MODEL_NUMBER += 1``) run,
   then the override is assigned again.
2. Returns: ``return VALUE`` in a function the run defines reports VALUE to the
   harness before returning it, so a model is known as "returned by build_cnn()" even
   when nothing binds it to a name.

Both call the run's hook object, bound in the namespace as ``__grader_harness__``.
Line numbers are kept, so tracebacks still point at the student's lines.
"""

from __future__ import annotations

import ast

HOOK = "__grader_harness__"


def _hook(method: str, args: list[ast.expr], at: ast.AST) -> ast.expr:
    call = ast.Call(func=ast.Attribute(value=ast.Name(HOOK, ast.Load()), attr=method,
                                       ctx=ast.Load()), args=args, keywords=[])
    return ast.copy_location(call, at)


def _bound_names(target: ast.expr) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Store)]


def _declared_global(body: list[ast.stmt]) -> set[str]:
    """Names a function body declares ``global`` (not counting nested functions)."""
    found: set[str] = set()
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Global):
            found.update(node.names)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                   ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return found


class _Rewriter(ast.NodeTransformer):
    def __init__(self, overrides: frozenset[str]) -> None:
        self.overrides = overrides
        self.replaced: list[frozenset[str]] = [overrides]  # per scope: names to replace
        self.prefix: list[str] = [""]  # per scope: the qualname prefix
        self.in_function: list[bool] = [False]

    def _setting(self, name: str, at: ast.AST) -> ast.expr:
        return _hook("setting", [ast.Constant(name)], at)

    def _scoped(self, node: ast.AST, body_attr: str, names: frozenset[str], prefix: str,
                function: bool) -> None:
        self.replaced.append(names)
        self.prefix.append(prefix)
        self.in_function.append(function)
        try:
            setattr(node, body_attr, self._visit_body(getattr(node, body_attr)))
        finally:
            self.replaced.pop()
            self.prefix.pop()
            self.in_function.pop()

    def _visit_body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            new = self.visit(stmt)
            out.extend(new if isinstance(new, list) else [new])
        return out

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        # Decorators, defaults and annotations run in the enclosing scope.
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.args = self.visit(node.args)
        qualname = self.prefix[-1] + node.name
        names = self.overrides & frozenset(_declared_global(node.body))
        self._scoped(node, "body", names, qualname + ".<locals>.", True)
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.bases = [self.visit(b) for b in node.bases]
        self._scoped(node, "body", frozenset(), self.prefix[-1] + node.name + ".", False)
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        return node  # a lambda binds nothing at module level and has no `return`

    def visit_Return(self, node: ast.Return) -> ast.AST:
        if node.value is not None and self.in_function[-1]:
            qualname = self.prefix[-1].removesuffix(".<locals>.")
            node.value = _hook("returned", [self.visit(node.value), ast.Constant(qualname)],
                               node)
        return node

    def _reassign_after(self, node: ast.stmt, names: list[str]) -> list[ast.stmt]:
        again = [ast.copy_location(ast.Assign(targets=[ast.Name(n, ast.Store())],
                                              value=self._setting(n, node)), node)
                 for n in dict.fromkeys(names)]
        return [node, *again]

    def visit_Assign(self, node: ast.Assign) -> ast.AST | list[ast.stmt]:
        node.value = self.visit(node.value)
        names = self.replaced[-1]
        hit = [n for t in node.targets for n in _bound_names(t) if n in names]
        if not hit:
            return node
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            node.value = self._setting(node.targets[0].id, node)
            return node
        return self._reassign_after(node, hit)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
            if isinstance(node.target, ast.Name) and node.target.id in self.replaced[-1]:
                node.value = self._setting(node.target.id, node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        node.value = self.visit(node.value)
        if isinstance(node.target, ast.Name) and node.target.id in self.replaced[-1]:
            return ast.copy_location(
                ast.Assign(targets=[ast.Name(node.target.id, ast.Store())],
                           value=self._setting(node.target.id, node)), node)
        return node


def rewrite(node: ast.stmt, overrides: frozenset[str]) -> list[ast.stmt]:
    """The statement(s) to compile in place of the top-level statement ``node``."""
    new = _Rewriter(overrides).visit(node)
    body = new if isinstance(new, list) else [new]
    for stmt in body:
        ast.fix_missing_locations(stmt)
    return body
