"""``planner evaluate``: exit codes, inputs (files, directories, stdin) and the terminal table.

The fixture (tests/fixtures/cli/shop): three Ready nodes, the Service ``shop`` with externalTrafficPolicy: Local
behind an equal-per-node load balancer that health-checks nodes, 900 connections/s, Pods 2 on node-a, 1 on
node-b, 0 on node-c. By hand: the LB sends only to node-a and node-b, 450/s each; node-a's two Pods get 225/s,
node-b's Pod 450/s; the mean Pod load is 900 / 3 = 300/s, so the hottest Pod is 450 / 300 = 1.50x the mean.
The coefficient of variation: deviations -75, -75, +150, variance (75² + 75² + 150²) / 3 = 11250,
sqrt(11250) / 300 = 0.354. shop/profile.yaml allows 2.0x (pass); strict-profile.yaml allows 1.2x (fail).
"""

import re

import pytest

from tests.cli.clihelpers import SHOP, SHOP_FILES, STRICT, line_of, run


def test_pass_exits_0_and_marks_the_current_policy():
    result = run("evaluate", SHOP)
    assert result.exit_code == 0, result.output
    current = [line for line in result.stdout.splitlines() if line.startswith("  *  ")]
    assert len(current) == 1
    assert "ETP=Local ITP=Cluster affinity=None" in current[0]
    assert re.search(r"1\.50x\s+0\.35\s+0\.0%\s+0%\s+100%\s+pass", current[0])
    assert "default/shop  PASS" in result.stdout
    assert "1/1 passed" in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal: no colour


def test_requirement_failure_exits_1_with_the_numbers():
    result = run("evaluate", *SHOP_FILES, STRICT)
    assert result.exit_code == 1
    assert "FAILED hottest Pod 1.50x mean > 1.20x" in result.stdout
    assert "default/shop  FAIL" in result.stdout
    # ETP Cluster spreads 900/s over three Pods: 1.00x, so that row passes the same requirement
    cluster_row = next(
        line for line in result.stdout.splitlines() if "ETP=Cluster ITP=Cluster affinity=None " in line + " "
    )
    assert cluster_row.split()[-1] == "pass"


def test_bad_value_exits_2_with_field_path_and_file_line(tmp_path):
    service = tmp_path / "service.yaml"
    service.write_text(
        (SHOP / "service.yaml").read_text().replace("externalTrafficPolicy: Local", "externalTrafficPolicy: Sideways")
    )
    result = run("evaluate", SHOP / "cluster.yaml", SHOP / "pods.yaml", service, SHOP / "profile.yaml")
    assert result.exit_code == 2
    line = line_of(service, "externalTrafficPolicy: Sideways")
    assert f"{service}:{line}: spec.externalTrafficPolicy: supported values" in result.stderr
    assert "'Sideways'" in result.stderr
    assert result.stdout == ""


def test_malformed_yaml_on_stdin_exits_2_with_line():
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: x\n"
    result = run("evaluate", SHOP / "cluster.yaml", "-", stdin=text)
    assert result.exit_code == 2
    assert "<stdin>:4: malformed YAML or JSON" in result.stderr


def test_missing_file_and_empty_directory_exit_2(tmp_path):
    result = run("evaluate", tmp_path / "nope.yaml", tmp_path)
    assert result.exit_code == 2
    assert "no such file or directory" in result.stderr
    assert "no *.yaml, *.yml or *.json under" in result.stderr


def test_no_cluster_exits_2():
    result = run("evaluate", SHOP / "service.yaml")
    assert result.exit_code == 2
    assert "nodes" in result.stderr


def test_unknown_option_is_a_usage_error_2():
    assert run("evaluate", SHOP, "--format", "pdf").exit_code == 2


def test_stdin_and_directory_give_the_same_result():
    text = "\n---\n".join(p.read_text() for p in [*SHOP_FILES, SHOP / "profile.yaml"])
    from_stdin = run("evaluate", "-", "--format", "json", stdin=text)
    from_dir = run("evaluate", SHOP, "--format", "json")
    assert from_stdin.exit_code == from_dir.exit_code == 0
    assert from_stdin.stdout == from_dir.stdout


def test_directories_are_read_recursively(tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    for path in [*SHOP_FILES, SHOP / "profile.yaml"]:
        (nested / path.name.replace(".yaml", ".yml")).write_text(path.read_text())
    (tmp_path / "README.md").write_text("not an input")
    result = run("evaluate", tmp_path)
    assert result.exit_code == 0, result.output
    assert "1.50x" in result.stdout


def test_output_file(tmp_path):
    out = tmp_path / "reports" / "result.md"
    result = run("evaluate", SHOP, "--format", "markdown", "--output", out)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert out.read_text().startswith("## Traffic Planner")


def test_scenario_is_evaluated_as_its_own_what_if(tmp_path):
    # nodeDown node-b: its Pod stops serving; the LB (health checks) sends everything to node-a, whose two Pods
    # get 450/s each: 1.00x the mean, so the scenario passes the strict 1.2x requirement the base fails.
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "apiVersion: trafficplanner.io/v1\nkind: Scenario\nmetadata: {name: lose-b}\n"
        "spec:\n  clusterRef: cluster\n  servicePlanRefs: [shop]\n  changes:\n  - {type: nodeDown, node: node-b}\n"
    )
    result = run("evaluate", *SHOP_FILES, STRICT, scenario, "--format", "json")
    assert result.exit_code == 1  # the base still fails
    import json

    base, what_if = json.loads(result.stdout)["evaluations"]
    assert base["verdict"] == "fail"
    assert what_if["verdict"] == "pass"
    assert what_if["policies"][0]["summary"]["hottestPodRatio"] == pytest.approx(1.0)
    assert what_if["policies"][0]["summary"]["hottestPodConnectionsPerSecond"] == pytest.approx(450.0)


def test_unknown_scenario_reference_exits_2_with_line(tmp_path):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "apiVersion: trafficplanner.io/v1\nkind: Scenario\nmetadata: {name: s}\n"
        "spec:\n  clusterRef: cluster\n  servicePlanRefs:\n  - nothing\n"
    )
    result = run("evaluate", SHOP, scenario)
    assert result.exit_code == 2
    assert f"{scenario}:7: spec.servicePlanRefs[0]: no such ServicePlan" in result.stderr


def test_help_documents_exit_codes():
    result = run("evaluate", "--help")
    assert result.exit_code == 0
    for text in ("0  pass", "1  requirements failed", "2  bad input", "3  service unreachable"):
        assert text in result.stdout
    assert "evaluate" in run("--help").stdout
    assert "recommend" in run("--help").stdout
