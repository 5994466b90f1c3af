"""Recorded predictions, for the checks whose notebooks ask the learner to predict before measuring
(01.1, 01.2, 02.3, 03.2, 05.2, 05.3, 06.2, 07.2, 08.3, 09.1, 10.1).

Such a check takes the prediction as `predicted=`, reads it before it runs the learner's code (a
prediction of the wrong form is refused first), and sets it next to the measurement once it shows
the measurement. The prediction given when a check first showed its measurement is kept for the
session (`_RECORDED`), so that a prediction written after the measurement is named, not compared.
A prediction left as `...` is allowed, and said. A check called without `predicted`, as before the
notebooks asked for one, says nothing about predictions.

The notebooks' groups keep their own texts (the wording each was written, and is translated, with:
`WORDING_01_06`, `WORDING_07_10`) and differ in two rules:
- `predicted=None` means "not asked" in notebooks 01-06 (None was the default of 05.2, 05.3 and
  06.2) and a prediction left open, like `...`, in notebooks 07-10 (`read_prediction`'s `none_means`);
- 05.2, 05.3 and 06.2 ask for a prediction of several parts, any of them `...`
  (`read_predictions`, `announce_predictions`): one whose parts are all left open is said but not
  recorded, and a prediction changed since the first is named without being repeated.
"""

from __future__ import annotations

from ..i18n import N_, _

import functools
from typing import Callable, NamedTuple

from ._core import exercise, expect


class _NotAsked:
    def __repr__(self) -> str:
        return "NOT_ASKED"


NOT_ASKED = _NotAsked()        # the check was called without a prediction (a notebook cell that asks for none)

# exercise -> the prediction given when the check first showed its measurement (None: left as `...`)
_RECORDED: dict[str, object] = {}


def with_prediction(name: str, check: Callable) -> Callable:
    """`check(answer, predicted)` as exercise `name`'s check, called `check(answer, predicted=...)`;
    called without `predicted`, as before the notebooks asked for one, it says nothing about it."""
    @functools.wraps(check)
    def checker(answer, predicted=NOT_ASKED) -> None:
        return exercise(name)(lambda guarded: check(guarded, predicted))(answer)
    checker.__name__ = checker.__qualname__ = check.__name__.lstrip("_")
    return checker


def read_prediction(value, parse: Callable, none_means=NOT_ASKED):
    """The learner's prediction, read before the check runs anything: NOT_ASKED when the check was
    called without one, None for a prediction left as `...`, or `parse(value)` (which refuses a
    prediction of the wrong form). `predicted=None` counts as `none_means`: NOT_ASKED in notebooks
    01-06, None (left open) in notebooks 07-10."""
    if value is NOT_ASKED:
        return NOT_ASKED
    if value is None:
        return none_means
    if value is Ellipsis:
        return None
    return parse(value)


def read_predictions(value, count: int, parse: Callable):
    """A prediction of `count` parts, one per question of the cell (05.2, 05.3, 06.2), read before
    the learner's code runs: NOT_ASKED when the check was called without one (or with None), else
    `count` values, each parsed, or None where it was left as `...` (`...` alone: every part)."""
    def parts(value) -> tuple:
        items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
        expect(len(items) == count, _("Give {count} predictions, in the order the cell asks for them; you gave {n}.").format(count=count, n=len(items)))
        return tuple(None if v is Ellipsis or v is None else parse(v) for v in items)

    guess = read_prediction(value, parts)
    return (None,) * count if guess is None else guess


def record_prediction(name: str, prediction):
    """Keep the prediction given when exercise `name` first shows its measurement (a pass, or a hint
    that names the measured value): a prediction changed afterwards is no longer a prediction.
    Returns the one kept (NOT_ASKED when none was asked)."""
    if prediction is NOT_ASKED:
        return NOT_ASKED
    return _RECORDED.setdefault(name, prediction)


# ---------------------------------------------------------------- what the checks say
CHANGED_SINCE = N_("This check recorded your prediction the first time it showed the measurement; it compares that one, not the one you wrote since.")


class Wording(NamedTuple):
    """What a group of notebooks' checks say about a recorded prediction."""

    left_open: str                          # the recorded prediction was left as `...`
    written_after: str                      # {now}: the prediction given now was written after the measurement
    changed: Callable[[str, str], str]      # (now, first) -> the line for a prediction changed since the first


WORDING_01_06 = Wording(
    N_("You left a prediction as `...`: the check runs anyway, but write the guess down before you run it next time, so that you can compare it with what you measure."),
    N_("Your prediction {now} was written after this check first showed the measurement, so it is not compared."),
    lambda now, first: _(CHANGED_SINCE) + " (" + now + ")")

WORDING_07_10 = Wording(
    N_("You made no prediction (it is still `...`). That is allowed, but a guess written down before you run the check is what shows you what surprised you."),
    N_("(Your prediction {now} was written after the measurement was shown, so it is not compared.)"),
    lambda now, first: _("(You changed your prediction to {now} after the measurement was shown; the comparison uses the one you made first, {first}.)").format(now=now, first=first))


def reveal_prediction(name: str, prediction, compare: Callable[[object], str], show: Callable[[object], str] = str, *,
                      wording: Wording, measured: str | None = None) -> None:
    """Print the first recorded prediction next to the measurement (`compare(prediction)` says both),
    or say that none was made (and print `measured`, if given); nothing when none was asked. A
    prediction changed after the first measurement is named (`show(prediction)`), not compared."""
    if prediction is NOT_ASKED:
        return
    first = record_prediction(name, prediction)
    if first is None:
        print(_(wording.left_open))
        if prediction is not None:
            print(_(wording.written_after).format(now=show(prediction)))
        if measured is not None:
            print(measured)
        return
    print(compare(first))
    if prediction is not None and prediction != first:
        print(wording.changed(show(prediction), show(first)))


def announce_predictions(name: str, predictions):
    """For a prediction of several parts (`read_predictions`), before the check compares them: the
    prediction to compare (the first recorded for `name`, recorded now if there is none yet; one
    whose parts are all left open is not recorded), after a note if it has changed since and a line
    if a part of it is left as `...`. NOT_ASKED (and nothing said) when none was asked."""
    if predictions is NOT_ASKED:
        return NOT_ASKED
    first = predictions if all(p is None for p in predictions) else record_prediction(name, predictions)
    if first != predictions:
        print(_(CHANGED_SINCE))
    if any(p is None for p in first):
        print(_(WORDING_01_06.left_open))
    return first
