"""Loading JSON / multi-document YAML with source lines."""

import pytest

from planner.domain.errors import InvalidDocument
from planner.domain.loading import line_of, load_objects

TEXT = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  annotations:
    service.kubernetes.io/topology-mode: Auto
spec:
  ports:
  - port: 80
    nodePort: 30080
---
# a comment
apiVersion: apps/v1
kind: Deployment
metadata:
  creationTimestamp: 2025-11-19T14:02:11Z
  name: web
"""


def test_multi_document_with_lines():
    service, deployment = load_objects(TEXT, "app.yaml")
    assert (service.index, deployment.index) == (0, 1)
    assert service.line == 1
    assert deployment.line == 13
    assert line_of(service, "spec.ports[0].nodePort") == 10
    assert line_of(service, "metadata.annotations[service.kubernetes.io/topology-mode]") == 6
    # a missing field points at its nearest parent
    assert line_of(service, "spec.ports[0].targetPort") == 9
    assert line_of(service, "spec.sessionAffinityConfig.clientIP.timeoutSeconds") == 7
    assert line_of(deployment, "metadata.name") == 17


def test_unquoted_timestamps_stay_text():
    _, deployment = load_objects(TEXT)
    assert deployment.raw["metadata"]["creationTimestamp"] == "2025-11-19T14:02:11Z"


def test_duplicate_keys_are_errors():
    with pytest.raises(InvalidDocument) as info:
        load_objects("kind: Service\nspec:\n  type: NodePort\n  type: ClusterIP\n", "dup.yaml")
    (error,) = info.value.errors
    assert (error.field, error.type, error.line, error.source) == ("spec.type", "Duplicate", 4, "dup.yaml")


def test_json_with_tabs_falls_back_to_json():
    (obj,) = load_objects(b'{\n\t"kind": "NodeList",\n\t"items": []\n}')
    assert obj.raw == {"kind": "NodeList", "items": []}


def test_malformed_text():
    with pytest.raises(InvalidDocument) as info:
        load_objects("kind: [Service\n", "bad.yaml")
    assert info.value.errors[0].source == "bad.yaml"
    assert info.value.errors[0].line is not None


def test_document_must_be_a_mapping():
    with pytest.raises(InvalidDocument) as info:
        load_objects("kind: Service\n---\n- a\n- b\n")
    assert info.value.errors[0].type == "TypeInvalid"


def test_non_string_keys_are_rejected():
    with pytest.raises(InvalidDocument) as info:
        load_objects("metadata:\n  labels:\n    1: a\n")
    assert info.value.errors[0].field == "metadata.labels[1]"


def test_empty_documents_are_skipped():
    assert [o.raw for o in load_objects("---\n---\nkind: A\n")] == [{"kind": "A"}]
