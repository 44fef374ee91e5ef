"""Session 20's second QA: the notebooks 02-06 in JupyterLab on a copy of the real music, and a
negative first weight of ``workbench similar --weights`` given as a separate word."""

from __future__ import annotations

import pytest

from workbench.cli import main


@pytest.mark.parametrize("given", [["--weights", "-1,1,1,1"], ["--weights=-1,1,1,1"], ["--weights", "-.5,1,1,1"]])
def test_similar_weights_with_a_negative_first_number_gets_the_options_own_message(tmp_path, capsys, given):
    """`similar 1 --weights -1,1,1,1` gave argparse's bare "argument --weights: expected one argument"
    (the value read as an option); `--weights=-1,1,1,1` gave the value and what is allowed."""
    assert main(["--home", str(tmp_path), "--quiet", "similar", "1", *given]) == 1
    err = capsys.readouterr().err
    assert "expected one argument" not in err, err
    assert "--weights: weights['vibe'] must be >= 0" in err and given[-1].split("=")[-1] in err, err


def test_an_option_that_is_not_a_value_is_still_refused_as_one(tmp_path, capsys):
    """A word that starts with a minus and is no number list stays an option (argparse's usage error)."""
    with pytest.raises(SystemExit) as exit_:
        main(["--home", str(tmp_path), "similar", "1", "--weights", "-x"])
    assert exit_.value.code == 2
