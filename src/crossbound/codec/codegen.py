"""What the generated Avro writers and readers share: a function's lines, its names and its constants."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["CodeGen"]


class CodeGen:
    """Lines of one generated function, fresh variable names, and the constants its code refers to."""

    CONST_PREFIX = "k"
    WHAT = "code"  # the generated code's file name: <avro WHAT>

    def __init__(self, named: Mapping[str, Any], env: dict[str, Any]) -> None:
        self.named = named  # the schema's named types, by full name
        self.env = env  # the generated function's globals
        self.lines: list[str] = []
        self.n = 0
        self.open: set[str] = set()  # named types being generated: a reference back is recursion

    def var(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, value: Any) -> str:
        name = self.var(self.CONST_PREFIX)
        self.env[name] = value
        return name

    def function(self, name: str, params: str, setup: str, result: str) -> Callable[..., Any]:
        """The generated function: ``def name(params):``, ``setup``, the lines, ``return result``."""
        source = "\n".join([f"def {name}({params}):", f"    {setup}", *self.lines, f"    return {result}"])
        namespace: dict[str, Any] = {}
        code = compile(source + "\n", f"<avro {self.WHAT}>", "exec")
        exec(code, self.env, namespace)  # noqa: S102  our own code
        fn: Callable[..., Any] = namespace[name]
        return fn
