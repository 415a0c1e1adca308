from __future__ import annotations

import yaml

from tests.api.documents import CLUSTER_YAML


async def test_put_yaml_then_get(client):
    response = await client.put(
        "/v1/namespaces/payments/clusters/prod-eu", content=CLUSTER_YAML, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    got = await client.get("/v1/namespaces/payments/clusters/prod-eu")
    assert got.status_code == 200
    body = got.json()
    assert body["metadata"]["revision"] == 1
    assert body["spec"]["nodes"][1]["taints"][0]["key"] == "dedicated"
    assert body["spec"] == yaml.safe_load(CLUSTER_YAML)["spec"]
