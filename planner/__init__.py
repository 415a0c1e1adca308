"""Traffic Planner: plan Kubernetes Service traffic policies and replica placement before production."""

__version__ = "0.1.0"
