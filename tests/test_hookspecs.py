"""The hook specs are the plugin author's documentation (datasette's habit): these tests fail
when a hook is undocumented, a parameter goes unexplained, or a name lacks the project prefix."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

import pytest

from carbonline import hookspecs

#: pluggy's HookspecMarker("carbonline") stores its options under this attribute.
SPEC_ATTR = "carbonline_spec"

#: A docstring shorter than this is a title, not documentation.
MIN_DOC_CHARS = 80


def _module_functions() -> dict[str, Callable]:
    return {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if fn.__module__ == hookspecs.__name__
    }


SPECS: dict[str, Callable] = {
    name: fn for name, fn in _module_functions().items() if hasattr(fn, SPEC_ATTR)
}


def test_the_hooks_we_document_are_there() -> None:
    """Guards the parametrised tests below against passing vacuously on an empty module."""
    assert {"carbonline_sources", "carbonline_emission_factors", "carbonline_sinks"} <= set(SPECS)


def test_every_function_in_hookspecs_is_a_hook_spec() -> None:
    """A function in hookspecs.py without ``@hookspec`` would look like a hook to a reader but
    pluggy would never call an implementation of it."""
    not_specs = sorted(set(_module_functions()) - set(SPECS))
    assert not_specs == []


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hook_name_carries_the_project_prefix(name: str) -> None:
    assert name.startswith("carbonline_")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hook_has_a_docstring_of_substance(name: str) -> None:
    doc = inspect.getdoc(SPECS[name]) or ""
    assert len(doc) >= MIN_DOC_CHARS, f"{name}: docstring is {len(doc)} chars: {doc!r}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_parameter_is_mentioned_in_the_docstring(name: str) -> None:
    """A plugin author reads the docstring, not the signature: each argument must be explained."""
    doc = inspect.getdoc(SPECS[name]) or ""
    params = list(inspect.signature(SPECS[name]).parameters)
    assert params, f"{name} takes no arguments?"
    missing = [p for p in params if not re.search(rf"(?<!\w){re.escape(p)}(?!\w)", doc)]
    assert missing == [], f"{name}: docstring does not mention parameter(s) {missing}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_docstring_says_whether_one_answer_wins_or_all_are_used(name: str) -> None:
    """pytest's habit: firstresult where one answer wins, plain where all contribute. The author
    of a plugin has to know which, so the docstring must say it, and agree with the marker."""
    doc = " ".join((inspect.getdoc(SPECS[name]) or "").split())
    firstresult = getattr(SPECS[name], SPEC_ATTR)["firstresult"]
    if firstresult:
        assert re.search(r"first .* wins", doc, re.IGNORECASE), doc
        assert "None" in doc, "a firstresult hook must tell plugins to return None to pass"
    else:
        assert re.search(r"every plugin is asked", doc, re.IGNORECASE), doc
        assert re.search(r"all answers are used", doc, re.IGNORECASE), doc


def test_factors_and_root_cause_are_the_firstresult_hooks() -> None:
    """Factors: one provider answers per zone; root cause: one analyser names the cause (a
    plant's own before the built-in). Sources and sinks: every plugin contributes."""
    firstresult = sorted(n for n, fn in SPECS.items() if getattr(fn, SPEC_ATTR)["firstresult"])
    assert firstresult == ["carbonline_emission_factors", "carbonline_root_cause"]
