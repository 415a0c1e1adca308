"""Bearer-token authentication, scopes and namespace access for the REST API."""
