"""The term-weights option of similar-track search, read the same way by ``workbench similar --weights`` and notebook 01.

One value names the weights of the vibe, tempo, key and energy terms:

- ``None`` or ``"auto"``: what :class:`~workbench.search.LibrarySearch` uses by default (today the
  defaults, see :data:`workbench.search.AUTO_LEARNED`);
- ``"default"``: 0.5, 0.2, 0.2, 0.1;
- ``"learned"``: fitted on your folders or crates, the model's training tracks only
  (:mod:`workbench.similarity.learned_weights`; an error where none can be fitted);
- four numbers ``"V,T,K,E"`` (as on the command line), a sequence of four numbers or a mapping
  ``{"vibe": ..., "tempo": ..., "key": ..., "energy": ...}``: given weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.errors import ParameterError
from workbench.similarity.learned_weights import TERMS as _TERMS

#: The named choices; anything else must be four numbers.
WEIGHT_CHOICES: tuple[str, ...] = ("auto", "default", "learned")


def search_weights(value: Any, *, name: str = "weights") -> tuple[str, dict[str, float] | None]:
    """How a search takes a weights option: ``(term_weights, weights)``.

    Parameters
    ----------
    value : None, str, sequence of 4 float or mapping of str to float
        As the module says.
    name : str
        The option's name in an error message (``"--weights"``, ``"WEIGHTS"``).

    Returns
    -------
    term_weights : {"auto", "default", "learned"}
        For :class:`~workbench.search.LibrarySearch` (``term_weights=``).
    weights : dict of str to float or None
        For :meth:`~workbench.search.LibrarySearch.similar` (``weights=``): the given numbers, or None
        for a named choice.

    Raises
    ------
    ParameterError
        Anything else, naming the value and what is allowed; numbers that are not finite and >= 0 with
        a sum > 0 (:class:`~workbench.similarity.scores.Weights`).
    """
    if value is None:
        return "auto", None
    if isinstance(value, str) and value in WEIGHT_CHOICES:
        return value, None
    numbers: Any = value.split(",") if isinstance(value, str) else value
    if isinstance(numbers, Sequence) and not isinstance(numbers, str) and len(numbers) == 4:
        numbers = dict(zip(_TERMS, numbers, strict=True))
    if isinstance(numbers, Mapping) and numbers and all(k in _TERMS for k in numbers):
        try:
            given = {k: float(v) for k, v in numbers.items()}
        except (TypeError, ValueError):
            pass
        else:  # numbers search cannot use are said now, not after the library is analysed and embedded
            from workbench.similarity.scores import Weights

            try:
                Weights.coerce(given)
            except ParameterError as exc:
                raise ParameterError(f"{name}: {exc} ({value!r})") from exc
            return "auto", given
    raise ParameterError(f"{name} must be four numbers V,T,K,E, 'learned' or 'default'; got {value!r}")
