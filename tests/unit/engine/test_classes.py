"""Node classes: nodes the evaluation cannot tell apart share one class (planner.engine.classes)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from planner.engine.classes import _first_occurrence_classes, node_classes
from planner.engine.evaluate import _per_node


@given(st.lists(st.tuples(st.integers(0, 12), st.booleans()), max_size=60))
def test_classes_follow_the_first_node_of_each_key(nodes: list[tuple[int, bool]]) -> None:
    # Brute force from the definition: walk the nodes in order; a single node opens a class of its own, a grouped
    # node joins the class of the first earlier grouped node with the same key, or opens a new one.
    key = np.array([k for k, _ in nodes], dtype=np.int64)
    single = np.array([s for _, s in nodes], dtype=bool)
    expected_class: list[int] = []
    expected_first: list[int] = []
    class_of_key: dict[int, int] = {}
    for i, (k, alone) in enumerate(nodes):
        if alone or k not in class_of_key:
            expected_first.append(i)
            if not alone:
                class_of_key[k] = len(expected_first) - 1
            expected_class.append(len(expected_first) - 1)
        else:
            expected_class.append(class_of_key[k])
    class_of_node, first = _first_occurrence_classes(key, single)
    assert class_of_node.tolist() == expected_class
    assert first.tolist() == expected_first


def test_nodes_with_pods_stand_alone_and_empty_nodes_group_by_zone_and_health() -> None:
    # 6 nodes: n0 and n3 have Pods (a class each); n1, n2 (zone a, up) share a class, n4 (zone b) and n5
    # (zone a, down) get their own: classes in order of first node: n0, n1+n2, n3, n4, n5.
    zone = np.array([0, 0, 0, 1, 1, 0], dtype=np.int64)
    up = np.array([True, True, True, True, True, False])
    classes = node_classes(
        zone,
        up,
        np.zeros(6, dtype=bool),
        np.full(6, 4000, dtype=np.int64),
        np.array([1, 0, 0, 2, 0, 0], dtype=np.int64),
        np.zeros(6, dtype=np.int64),
        np.ones(6),
    )
    assert classes.class_of_node.tolist() == [0, 1, 1, 2, 3, 4]
    assert classes.first.tolist() == [0, 1, 3, 4, 5]
    assert classes.count.tolist() == [1, 2, 1, 1, 1]
    assert classes.cpu_milli.tolist() == [4000, 8000, 4000, 4000, 4000]


def test_class_values_spread_to_every_node_in_node_order() -> None:
    # 3 classes, 5 nodes (classes 0, 1, 1, 2, 1): a varying row is gathered per node, a row with one value for
    # every class is that value repeated; the order of the rows is kept.
    columns = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [0.5, 0.25, 0.5]])
    table = _per_node(columns, np.array([0, 1, 1, 2, 1], dtype=np.int64))
    assert table == [[1.0, 2.0, 2.0, 3.0, 2.0], [0.0] * 5, [0.5, 0.25, 0.25, 0.5, 0.25]]
    assert _per_node(np.zeros((2, 0)), np.zeros(0, dtype=np.int64)) == [[], []]
