"""``planner recommend -o DIR``: manifests (one file per object), changes.diff and report.html.

By hand: three equal nodes, ETP Local behind an equal-per-node LB, 3 replicas. With k nodes holding Pods, a Pod
on node n gets T / (k x_n); 1/1/1 gives every Pod T/3 (1.00x), the best there is (2/1/0 is 1.50x, 3/0/0 is even
but uses one node, and spread breaks the tie toward more nodes).
"""

import kubernetes_validate
import yaml

from planner.cli.recommend import manifest_filename, split_documents
from tests.cli.clihelpers import SHOP, SHOP_FILES, STRICT, run


def test_recommend_writes_manifests_diff_and_report(tmp_path):
    out = tmp_path / "out"
    result = run("recommend", SHOP, "-o", out, "--time-limit", "5")
    assert result.exit_code == 0, result.output
    assert "default/shop: optimal, 3 replicas (node-a=1, node-b=1, node-c=1)" in result.stdout
    assert "hottest Pod 1.50x -> 1.00x mean" in result.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "changes.diff",
        "default-deployment-shop.yaml",
        "default-poddisruptionbudget-shop.yaml",
        "default-service-shop.yaml",
        "report.html",
    ]
    deployment = yaml.safe_load((out / "default-deployment-shop.yaml").read_text())
    assert deployment["spec"]["replicas"] == 3
    terms = deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][-1]["values"] == ["node-a", "node-b", "node-c"]
    assert (out / "default-deployment-shop.yaml").read_text().startswith("---\n# Deployment shop")
    for name in names:
        if name.endswith(".yaml"):
            kubernetes_validate.validate(yaml.safe_load((out / name).read_text()), "1.33", strict=True)
    diff = (out / "changes.diff").read_text()
    assert diff.startswith("--- a/default/shop/input.yaml\n+++ b/default/shop/recommended.yaml\n")
    assert "+kind: PodDisruptionBudget" in diff
    assert "+                - node-c" in diff
    html = (out / "report.html").read_text()
    assert "Recommended placement" in html
    assert "Current placement" in html


def test_recommended_plan_still_failing_a_requirement_exits_1(tmp_path):
    # A Pod that serves 100/s while 3 Pods must share 900/s (300/s each at best): no placement of the workload's
    # 3 replicas meets it, so recommend reports no plan and exits 1.
    profile = tmp_path / "profile.yaml"
    profile.write_text(STRICT.read_text().replace("maxDroppedFraction: 0.01", "podCapacityConnectionsPerSecond: 100"))
    result = run("recommend", *SHOP_FILES, profile, "-o", tmp_path / "out", "--time-limit", "5")
    assert result.exit_code == 1
    assert "default/shop" in result.stdout


def test_recommend_bad_input_exits_2(tmp_path):
    result = run("recommend", SHOP / "service.yaml", "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_split_documents_keeps_comments_and_names_files():
    text = (
        "---\n# why\napiVersion: v1\nkind: Service\nmetadata: {name: a/b, namespace: x}\n"
        "---\nkind: PodDisruptionBudget\nmetadata: {name: p}\n"
    )
    (first, doc1), (_, doc2) = split_documents(text)
    assert first.startswith("# why\n")
    assert manifest_filename(doc1) == "x-service-a_b.yaml"
    assert manifest_filename(doc2) == "default-poddisruptionbudget-p.yaml"
