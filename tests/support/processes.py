"""Starting and probing local processes in tests: free ports, HTTP probes, a clean environment."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A loopback TCP port that nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(url: str) -> int:
    """The HTTP status of a GET on ``url`` (error statuses included); OSError when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def environment_without_planner_settings() -> dict[str, str]:
    """This process's environment minus every ``PLANNER_*`` setting, so a child starts from the defaults."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PLANNER_")}


@contextmanager
def logged_process(
    command: Sequence[str], *, cwd: Path, env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` with its stdout and stderr going to ``log_path``; killed on exit if it still runs."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for_ok(
    process: subprocess.Popen[bytes], url: str, *, seconds: float, output: Callable[[], str] = lambda: ""
) -> None:
    """Poll ``url`` until it answers 200; fail if ``process`` exits first or ``seconds`` pass.

    ``output`` gives what the process has written so far, for the failure message.
    """
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, f"the process exited with {process.returncode}:\n{output()}"
        try:
            if http_status(url) == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"no 200 from {url} within {seconds} s:\n{output()}"
        time.sleep(0.2)
