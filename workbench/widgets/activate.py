"""Ask before activating a model version that is not better than the active one.

>>> ActivatePrompt(registry, version, "not better than dj_section_v2: macro_f1 0.91 is worse than its 0.93")  # doctest: +SKIP

Shows why the version was not activated and a button to activate it anyway; the click goes through
:meth:`workbench.registry.Registry.activate` (its blocking gates still apply unless ``force``), and
an error is shown on the page. State is traitlets (``activated``, ``message``).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import ipywidgets as w
import traitlets

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.registry_types import Version


class ActivatePrompt(w.VBox):
    """The reason a version was left inactive, and an "activate anyway" button.

    Parameters
    ----------
    registry : Registry
        The model registry.
    version : Version
        The registered, inactive version.
    reason : str
        Why it was not activated (:attr:`workbench.export.activation.ActivationDecision.reason`).
    force : bool
        Passed to :meth:`~workbench.registry.Registry.activate` (activate past failing blocking gates).
    """

    #: Whether the button was used and the version is now active.
    activated = traitlets.Bool(False)
    #: The line under the button (result or error), plain text.
    message = traitlets.Unicode("")

    def __init__(self, registry: Registry, version: Version, reason: str, *, force: bool = False) -> None:
        super().__init__()
        self.registry, self.version, self.reason, self.force = registry, version, reason, force
        self._build()
        self.observe(lambda ch: setattr(self.result, "value", html.escape(ch["new"])), names="message")

    def _build(self) -> None:
        self.text = w.HTML(f"<p><b>{html.escape(self.version.name)} was exported but not activated</b>: "
                           f"{html.escape(self.reason)}.</p>")
        self.button = w.Button(description=f"Activate {self.version.name} anyway", button_style="warning",
                               layout=w.Layout(width="auto"))
        self.button.add_class("wb-activate-anyway")
        self.result = w.HTML()
        self.button.on_click(lambda _: self.confirm())
        self.children = [self.text, self.button, self.result]

    def confirm(self) -> None:
        """Activate the version now (what the button does); a refusal is shown, not raised."""
        try:
            v = self.registry.activate(self.version.model_type, self.version.version, force=self.force)
        except WorkbenchError as exc:
            self.message = f"not activated: {exc}"
            return
        self.activated = True
        self.button.disabled = True
        self.message = f"{v.name} is now the active {v.model_type} model"

    def __repr__(self) -> str:
        return f"ActivatePrompt({self.version.name}, activated={self.activated})"
