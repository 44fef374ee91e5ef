"""Argument checks with the package's one wording: ``"<name> must be <what is allowed>; got <value>"``.

Each check returns the value as the plain Python type (numpy integers and floats accepted) or
raises ``error`` (:class:`~workbench.errors.ParameterError` unless the caller's module has its
own subclass, such as :class:`~workbench.labels.LabelError`). ``bool`` is never taken for a number.

>>> check_int("n_views", 3, min=1)
3
>>> check_choice("format", "csv", ("json", "csv"))
'csv'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any, TypeVar

from workbench.errors import ParameterError

__all__ = ["check_bool", "check_choice", "check_float", "check_int", "check_seed"]

T = TypeVar("T")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value: object, *, min: int | None = None, max: int | None = None,  # noqa: A002
              what: str = "an int", error: type[Exception] = ParameterError) -> int:
    """``value`` as an ``int`` in ``[min, max]`` (either bound optional); ``what`` names it
    (``"an int"``, ``"an integer"``).

    Raises ``error``: ``"n must be an int >= 1; got 0"``, ``"version must be an int in 1..9; got 0"``.

    Parameters
    ----------
    name : str
        The argument's name, as the message shows it.
    value : object
        The value to check; an ``int`` or numpy integer (not ``bool``).
    min, max : int or None
        Inclusive bounds; None leaves that side open.
    what : str
        How the message names the kind of value.
    error : type[Exception]
        The exception class raised.

    Returns
    -------
    int

    Raises
    ------
    error
        If ``value`` is not an integer or lies outside ``[min, max]``.
    """
    if min is not None and max is not None:
        rule = f"{what} in {min}..{max}"
    elif min is not None:
        rule = f"{what} >= {min}"
    elif max is not None:
        rule = f"{what} <= {max}"
    else:
        rule = what
    if not _is_int(value) or (min is not None and value < min) or (max is not None and value > max):  # type: ignore[operator]
        raise error(f"{name} must be {rule}; got {value!r}")
    return int(value)  # type: ignore[arg-type]


def check_float(name: str, value: object, *, min: float | None = None, max: float | None = None,  # noqa: A002
                min_open: bool = False, max_open: bool = False, what: str = "a number",
                error: type[Exception] = ParameterError) -> float:
    """``value`` as a finite ``float`` between ``min`` and ``max`` (each optional; ``*_open``
    excludes that bound). ``what`` names the kind of number (``"a float"``, ``"a number of seconds"``).

    Raises ``error``: ``"dropout must be a float in [0, 1); got 1.0"``, ``"x must be a number > 0; got 0"``.

    Parameters
    ----------
    name : str
        The argument's name, as the message shows it.
    value : object
        The value to check; a finite real number (not ``bool``).
    min, max : float or None
        Bounds; None leaves that side open.
    min_open, max_open : bool
        Exclude that bound (``>`` / ``<`` instead of ``>=`` / ``<=``).
    what : str
        How the message names the kind of number.
    error : type[Exception]
        The exception class raised.

    Returns
    -------
    float

    Raises
    ------
    error
        If ``value`` is not a finite number or lies outside the bounds.
    """
    if min is not None and max is not None:
        rule = f"{what} in {'(' if min_open else '['}{min}, {max}{')' if max_open else ']'}"
    elif min is not None:
        rule = f"{what} {'>' if min_open else '>='} {min}"
    elif max is not None:
        rule = f"{what} {'<' if max_open else '<='} {max}"
    else:
        rule = f"{what} (finite)"
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(float(value)):
        raise error(f"{name} must be {rule}; got {value!r}")
    x = float(value)
    if min is not None and (x <= min if min_open else x < min):
        raise error(f"{name} must be {rule}; got {value!r}")
    if max is not None and (x >= max if max_open else x > max):
        raise error(f"{name} must be {rule}; got {value!r}")
    return x


def check_choice(name: str, value: T, options: Iterable[Any], *, quote: bool = True,
                 error: type[Exception] = ParameterError) -> T:
    """``value`` if it is one of ``options`` (compared with ``==``, so ``1`` is not ``"1"``).

    Raises ``error``: ``"overlap must be one of 'refuse', 'replace'; got 'x'"`` (``quote=False``
    lists the options bare: ``"format must be one of json, csv; got 'xml'"``).

    Parameters
    ----------
    name : str
        The argument's name, as the message shows it.
    value : T
        The value to check.
    options : iterable
        The allowed values.
    quote : bool
        List the options with ``repr`` (True) or ``str`` (False) in the message.
    error : type[Exception]
        The exception class raised.

    Returns
    -------
    T
        ``value`` unchanged.

    Raises
    ------
    error
        If ``value`` is not among ``options``.
    """
    opts = tuple(options)
    try:
        ok = bool(value in opts)
    except (TypeError, ValueError):  # an array or another value that does not compare to one bool
        ok = False
    if not ok:
        shown = ", ".join(repr(o) if quote else str(o) for o in opts)
        raise error(f"{name} must be one of {shown}; got {value!r}")
    return value


def check_seed(name: str, value: object, *, error: type[Exception] = ParameterError) -> int:
    """A random seed: an ``int >= 0`` (numpy integers accepted), as an ``int``.

    Parameters
    ----------
    name : str
        The argument's name, as the message shows it.
    value : object
        The seed; an integer ``>= 0``.
    error : type[Exception]
        The exception class raised.

    Returns
    -------
    int

    Raises
    ------
    error
        If ``value`` is not an integer ``>= 0``.
    """
    return check_int(name, value, min=0, error=error)


def check_bool(name: str, value: object, *, error: type[Exception] = ParameterError) -> bool:
    """``value`` if it is a ``bool``; 0, 1 and numpy booleans are refused.

    Parameters
    ----------
    name : str
        The argument's name, as the message shows it.
    value : object
        The value to check; must be ``True`` or ``False``.
    error : type[Exception]
        The exception class raised.

    Returns
    -------
    bool

    Raises
    ------
    error
        If ``value`` is not a ``bool``.
    """
    if isinstance(value, bool):
        return value
    raise error(f"{name} must be True or False; got {value!r}")
