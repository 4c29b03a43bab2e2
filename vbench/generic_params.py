"""Which concrete type a class binds to its generic base's first parameter (``Task[Opts]`` → ``Opts``).

Tasks and runners are generic over their options type so that ``self.options.x`` type-checks; the same
type is needed at run time (``--task_args`` / ``--model_args`` validation, ``vbench ls``), where it lives
in a ClassVar. :func:`bind_schema` keeps the two one: a subclass that binds a type and declares no
ClassVar gets it filled in, and a ClassVar that disagrees with the bound type is an error at import.
"""
from __future__ import annotations

import typing
from typing import Any


def bound_param(cls: type, generic_base: type) -> type | None:
    """The concrete first type argument given to ``generic_base`` by ``cls`` or its nearest ancestor."""
    for klass in cls.__mro__:
        for base in klass.__dict__.get("__orig_bases__", ()):
            origin = typing.get_origin(base)
            if isinstance(origin, type) and issubclass(origin, generic_base):
                args = typing.get_args(base)
                if args and isinstance(args[0], type):
                    return args[0]
    return None


def bind_schema(cls: type, generic_base: type, attr: str) -> None:
    """Fill ``cls.<attr>`` from the bound type if ``cls`` declares none; refuse a ClassVar that disagrees.

    A ClassVar may be a subclass of the bound type (a subclass that narrows its schema and annotates the
    attribute itself); anything else means the checked type and the validated schema differ.
    """
    bound = bound_param(cls, generic_base)
    if bound is None:
        return
    schema: Any = getattr(cls, attr, None)
    fits = isinstance(schema, type) and issubclass(schema, bound)
    if not fits and attr not in cls.__dict__:
        setattr(cls, attr, bound)  # only the generic parameter was given (or a base's schema): it is the schema
    elif not fits:
        raise TypeError(f"{cls.__qualname__}.{attr} is {getattr(schema, '__qualname__', schema)!r} but the class is "
                        f"{generic_base.__name__}[{bound.__qualname__}]: declare the same type in both places")
