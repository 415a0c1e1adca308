"""Solves behind the REST API: the job-runner interface, the in-process runner and the ``recommend`` job."""
