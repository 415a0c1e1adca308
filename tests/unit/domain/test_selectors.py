"""Label selectors: k8s.io/apimachinery/pkg/labels/selector.go semantics and query syntax."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.domain.k8s import LabelSelector, LabelSelectorRequirement
from planner.domain.selectors import (
    SelectorError,
    labels_match,
    parse_selector,
    selector_from_label_selector,
    selector_from_map,
)

WEB = {"app": "web", "tier": "frontend", "track": "stable"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("app!=db", True),
        ("canary!=yes", True),  # != matches objects without the key (selector.go Requirement.Matches)
        ("tier in (frontend,backend)", True),
        ("tier in (backend)", False),
        ("tier notin (backend)", True),
        ("canary notin (yes)", True),  # notin also matches a missing key
        ("track", True),
        ("!track", False),
        ("!canary", True),
        ("app=web,tier in (frontend),!canary", True),
        ("app=web,tier=backend", False),
        ("", True),  # the empty selector selects everything
    ],
)
def test_parse_and_match(text, matches):
    assert parse_selector(text).matches(WEB) is matches


@pytest.mark.parametrize(
    "text",
    ["app in ()", "app in (web", "=web", "app,", "app web", "app=web extra", "!", "Bad_/x=y", "app=-web", "a in (b) c"],
)
def test_malformed_selectors_raise(text):
    with pytest.raises(SelectorError):
        parse_selector(text)


def test_selector_prints_back_in_query_syntax():
    assert str(parse_selector("tier in (b,a),!canary, app=web")) == "tier in (a,b),!canary,app=web"


def test_label_selector_struct():
    selector = LabelSelector(
        match_labels={"app": "web"},
        match_expressions=[LabelSelectorRequirement(key="track", operator="NotIn", values=["canary"])],
    )
    assert selector_from_label_selector(selector).matches(WEB)
    assert not selector_from_label_selector(selector).matches({"app": "web", "track": "canary"})


def test_unknown_expression_operator_is_an_error():
    selector = LabelSelector(match_expressions=[LabelSelectorRequirement(key="a", operator="Gt", values=["1"])])
    with pytest.raises(SelectorError):
        selector_from_label_selector(selector)


def test_exists_with_values_is_an_error():
    selector = LabelSelector(match_expressions=[LabelSelectorRequirement(key="a", operator="Exists", values=["x"])])
    with pytest.raises(SelectorError):
        selector_from_label_selector(selector)


def test_map_selectors():
    assert selector_from_map({"app": "web"}).matches(WEB)
    assert not selector_from_map({"app": "db"}).matches(WEB)
    assert labels_match({"app": "web", "tier": "frontend"}, WEB)
    assert not labels_match({"zone": "a"}, WEB)


keys = st.from_regex(r"\A[a-z][a-z0-9]{0,5}(\.example\.com/[a-z][a-z0-9]{0,5})?\Z")
values = st.from_regex(r"\A[a-z0-9]{1,6}\Z")
label_sets = st.dictionaries(keys, values, max_size=5)


@settings(max_examples=150)
@given(label_sets, label_sets)
def test_map_selector_round_trips_through_text(selector, labels):
    parsed = selector_from_map(selector)
    reparsed = parse_selector(str(parsed))
    assert reparsed == parsed
    assert reparsed.matches(labels) == labels_match(selector, labels)


@settings(max_examples=150)
@given(keys, st.lists(values, min_size=1, max_size=4), label_sets)
def test_in_and_notin_are_complements(key, options, labels):
    joined = ",".join(options)
    inside = parse_selector(f"{key} in ({joined})").matches(labels)
    outside = parse_selector(f"{key} notin ({joined})").matches(labels)
    assert inside != outside
    assert inside == (labels.get(key) in options)
