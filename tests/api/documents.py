"""Realistic request bodies, written the way users write them for ``kubectl apply``."""

from __future__ import annotations

CLUSTER_YAML = """\
apiVersion: trafficplanner.io/v1
kind: Cluster
metadata:
  name: prod-eu
  namespace: payments
  labels:
    env: prod
    region: eu-west-1
spec:
  kubernetesVersion: "1.33"
  nodes:
  - name: ip-10-0-1-21.eu-west-1.compute.internal
    zone: eu-west-1a
    allocatable:
      cpu: 3920m
      memory: 15147852Ki
      pods: "110"
  - name: ip-10-0-2-47.eu-west-1.compute.internal
    zone: eu-west-1b
    allocatable:
      cpu: 3920m
      memory: 15147852Ki
      pods: "110"
    taints:
    - key: dedicated
      value: ingress
      effect: NoSchedule
"""


def cluster(name: str = "prod-eu", namespace: str = "payments", labels: dict[str, str] | None = None, cpu: str = "4"):
    """A Cluster document as JSON-ready data."""
    return {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "nodes": [
                {"name": "node-a", "zone": "zone-a", "allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110"}},
                {"name": "node-b", "zone": "zone-b", "allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110"}},
            ]
        },
    }


SERVICE_PLAN_YAML = """\
apiVersion: trafficplanner.io/v1
kind: ServicePlan
metadata:
  name: checkout
  namespace: payments
spec:
  clusterRef: prod-eu
  service:
    apiVersion: v1
    kind: Service
    metadata:
      name: checkout
      namespace: payments
    spec:
      type: LoadBalancer
      selector:
        app.kubernetes.io/name: checkout
      ports:
      - name: http
        port: 80
        protocol: TCP
        targetPort: 8080
      externalTrafficPolicy: Local
  placement:
    podsPerNode:
      ip-10-0-1-21.eu-west-1.compute.internal: 2
      ip-10-0-2-47.eu-west-1.compute.internal: 1
  traffic:
    external:
      connectionsPerSecond: 1200
"""


def service_plan(name: str, cluster_ref: str, namespace: str = "payments"):
    return {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "ServicePlan",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "clusterRef": cluster_ref,
            "service": {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name},
                "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        },
    }


def scenario(name: str, cluster_ref: str, plans: list[str], namespace: str = "payments"):
    return {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "Scenario",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "clusterRef": cluster_ref,
            "servicePlanRefs": plans,
            "changes": [{"type": "zoneDown", "zone": "zone-a"}],
        },
    }
