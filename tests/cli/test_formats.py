"""Every output format of ``planner evaluate``, parsed back and checked against the hand-derived numbers.

Numbers (see test_evaluate.py): hottest Pod 1.50x the mean (450/s against a 300/s mean), nothing dropped, the
strict profile's 1.2x limit fails.
"""

import json
import xml.etree.ElementTree as ET

import pytest
import yaml

from tests.cli.clihelpers import SHOP, SHOP_FILES, STRICT, line_of, run


@pytest.fixture(scope="module")
def sarif():
    result = run("evaluate", *SHOP_FILES, STRICT, "--format", "sarif")
    assert result.exit_code == 1
    return json.loads(result.stdout)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_json_and_yaml_carry_the_engine_schema(fmt):
    result = run("evaluate", *SHOP_FILES, STRICT, "--format", fmt)
    assert result.exit_code == 1
    doc = json.loads(result.stdout) if fmt == "json" else yaml.safe_load(result.stdout)
    assert doc["verdict"] == "fail"
    (evaluation,) = doc["evaluations"]
    assert evaluation["service"] == "shop"
    assert evaluation["verdict"] == "fail"
    assert evaluation["failures"] == ["hottest Pod 1.50x mean > 1.20x"]
    current = evaluation["policies"][0]
    assert current["current"] is True
    assert current["summary"]["hottestPodRatio"] == pytest.approx(1.5)
    assert current["summary"]["meanPodConnectionsPerSecond"] == pytest.approx(300.0)
    nodes = current["nodes"]
    assert dict(zip(nodes["names"], nodes["perPodConnectionsPerSecond"], strict=True)) == pytest.approx(
        {"node-a": 225.0, "node-b": 450.0, "node-c": 0.0}
    )
    # msgspec decodes it back into the engine's Evaluation type
    import msgspec

    from planner.engine.results import Evaluation

    assert msgspec.convert(evaluation, Evaluation).verdict == "fail"


def test_sarif_structure(sarif):
    """The SARIF 2.1.0 properties that code hosts require (sarifLog, run, tool.driver, result, location)."""
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = sarif["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "traffic-planner"
    assert isinstance(driver["version"], str)
    ids = [rule["id"] for rule in driver["rules"]]
    assert len(ids) == len(set(ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note"}
    assert run_["results"]
    for result in run_["results"]:
        assert result["ruleId"] == ids[result["ruleIndex"]]
        assert result["level"] in {"error", "warning", "note"}
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"]
        assert "\\" not in physical["artifactLocation"]["uri"]
        assert isinstance(physical["region"]["startLine"], int)
        assert physical["region"]["startLine"] >= 1


def _result(sarif, rule_id):
    (found,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == rule_id]
    return found


def _where(result):
    physical = result["locations"][0]["physicalLocation"]
    return physical["artifactLocation"]["uri"], physical["region"]["startLine"]


def test_sarif_requirement_failure_points_at_the_requirement(sarif):
    result = _result(sarif, "requirement/maxHottestPodRatio")
    assert result["level"] == "error"
    assert "1.50x" in result["message"]["text"]
    uri, line = _where(result)
    assert uri.endswith("strict-profile.yaml")
    assert line == line_of(STRICT, "maxHottestPodRatio: 1.2")


def test_sarif_findings_point_at_the_field_to_change(sarif):
    # TP001 (uneven Pods under Local) is fixed by the replica placement: the Deployment's spec.replicas
    tp001 = _result(sarif, "TP001")
    assert tp001["level"] == "warning"
    uri, line = _where(tp001)
    assert uri.endswith("shop/service.yaml")
    assert line == line_of(SHOP / "service.yaml", "replicas: 3")
    assert tp001["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "spec.replicas"
    # TP002's fix is the LB's detection time, written under the profile's spec.external.loadBalancer
    uri, line = _where(_result(sarif, "TP002"))
    assert uri.endswith("strict-profile.yaml")
    assert line == line_of(STRICT, "loadBalancer:")


def test_sarif_service_field_in_a_servicePlan_document(tmp_path):
    # A ServicePlan document embeds the Service manifest: the finding points inside it
    plan = tmp_path / "plan.yaml"
    service = yaml.safe_load((SHOP / "service.yaml").read_text().split("---")[0])
    doc = {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "ServicePlan",
        "metadata": {"name": "shop"},
        "spec": {
            "clusterRef": "cluster",
            "service": service,
            "placement": {"podsPerNode": {"node-a": 2, "node-b": 1}},
            "traffic": {"external": {"connectionsPerSecond": 900, "loadBalancer": {"healthCheck": False}}},
        },
    }
    plan.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = run("evaluate", SHOP / "cluster.yaml", plan, "--format", "sarif")
    # Without health checks node-c still gets 300/s and DROPs it: TP002 error, fix spec.externalTrafficPolicy
    (tp002,) = [r for r in json.loads(result.stdout)["runs"][0]["results"] if r["ruleId"] == "TP002"]
    assert tp002["level"] == "error"
    uri, line = _where(tp002)
    assert uri == plan.as_posix().lstrip("./") or uri.endswith("plan.yaml")
    assert line == line_of(plan, "externalTrafficPolicy: Local")


def test_junit_one_case_per_service_and_requirement():
    result = run("evaluate", *SHOP_FILES, STRICT, "--format", "junit")
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    (suite,) = root.findall("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {"maxHottestPodRatio", "maxDroppedFraction"}
    failure = cases["maxHottestPodRatio"].find("failure")
    assert failure is not None
    assert failure.get("message") == "hottest Pod 1.50x mean > 1.20x"
    assert "actual: 1.5" in failure.text
    assert "limit: 1.2" in failure.text
    assert cases["maxDroppedFraction"].find("failure") is None


def test_junit_without_requirements_has_one_verdict_case(tmp_path):
    profile = tmp_path / "profile.yaml"
    profile.write_text((SHOP / "profile.yaml").read_text().split("  requirements:")[0])
    root = ET.fromstring(run("evaluate", *SHOP_FILES, profile, "--format", "junit").stdout)
    assert [c.get("name") for c in root.iter("testcase")] == ["verdict"]
    assert root.get("failures") == "0"


def test_markdown_summary_table_and_findings():
    result = run("evaluate", *SHOP_FILES, STRICT, "--format", "markdown")
    text = result.stdout
    assert "**0/1 Services pass their requirements.**" in text
    assert "| Service | Verdict | Current policy | Hottest/mean | Dropped | Extra hop | Client IP | Findings |" in text
    assert "| default/shop | ❌ fail | ETP=Local ITP=Cluster affinity=None | 1.50x | 0.0% | 0% | 100% | 2 |" in text
    assert "- ❌ requirement failed: hottest Pod 1.50x mean &gt; 1.20x" in text
    assert "| `TP001` local-uneven-pod-load | 🟠 warning |" in text
    assert "<details><summary>Policy matrix</summary>" in text


def test_html_format_is_one_self_contained_page():
    text = run("evaluate", SHOP, "--format", "html").stdout
    assert text.startswith("<!DOCTYPE html>")
    assert "<script" not in text
    assert "<link" not in text
    assert "src=" not in text
    assert "1.50x" in text
