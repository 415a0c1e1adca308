"""Tests of the ``dev`` bootstrap script and the ``.ci/run`` entry point."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def write_executable(path: Path, body: str) -> Path:
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, str(ROOT / "dev"), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    for command in ("serve", "test", "lint", "fmt", "bench", "openapi", "sync", "planner"):
        assert f"    {command} " in result.stdout


def test_unknown_command_is_a_usage_error():
    result = subprocess.run([sys.executable, str(ROOT / "dev"), "deploy"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "unknown command 'deploy'" in result.stderr


def test_sync_is_skipped_only_while_lock_and_project_file_are_unchanged(dev_module, tmp_path):
    (tmp_path / "uv.lock").write_text("version = 1\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "planner"):
        (bin_dir / name).touch()
    stamp = tmp_path / ".venv" / "stamp"
    fingerprint = dev_module.sync_fingerprint(tmp_path, "0.13.9")

    assert dev_module.needs_sync(stamp, fingerprint, bin_dir)  # never synced
    stamp.write_text(fingerprint + "\n")
    assert not dev_module.needs_sync(stamp, fingerprint, bin_dir)

    (tmp_path / "uv.lock").write_text("version = 1\n# changed\n")
    assert dev_module.sync_fingerprint(tmp_path, "0.13.9") != fingerprint
    (tmp_path / "uv.lock").write_text("version = 1\n")
    assert dev_module.sync_fingerprint(tmp_path, "0.13.9") == fingerprint
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    assert dev_module.sync_fingerprint(tmp_path, "0.13.9") != fingerprint
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert dev_module.sync_fingerprint(tmp_path, "0.14.0") != fingerprint

    (bin_dir / "planner").unlink()  # project no longer installed
    assert dev_module.needs_sync(stamp, fingerprint, bin_dir)


def test_dev_pins_the_uv_it_installs(dev_module):
    result = subprocess.run([str(dev_module.UV), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.split()[1] == dev_module.UV_VERSION


def test_postgres_probe_tells_a_closed_port_from_the_test_server(dev_module):
    assert dev_module.postgres_ready(dev_module.POSTGRES_HOST, dev_module.POSTGRES_PORT)
    assert not dev_module.postgres_ready("127.0.0.1", free_port())


def test_missing_postgres_fails_with_an_explanation(dev_module, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_ctlcluster
    with pytest.raises(dev_module.DevError) as excinfo:
        dev_module.ensure_postgres(
            "127.0.0.1", 5999, config_dir=tmp_path / "none", wait_seconds=0, is_ready=lambda host, port: False
        )
    message = str(excinfo.value)
    assert "PostgreSQL is not running on 127.0.0.1:5999" in message
    assert "SQLite and PostgreSQL" in message


def test_installed_cluster_is_started_and_awaited(dev_module, tmp_path, monkeypatch):
    for version in ("13", "15"):
        conf = tmp_path / "etc" / version / "main" / "postgresql.conf"
        conf.parent.mkdir(parents=True)
        conf.touch()
    calls = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_executable(bin_dir / "pg_ctlcluster", f'echo "$@" >> {calls}\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def ready(host, port):
        return calls.exists()  # up once the cluster was started

    dev_module.ensure_postgres("127.0.0.1", 5432, config_dir=tmp_path / "etc", wait_seconds=5, is_ready=ready)
    assert calls.read_text() == "--skip-systemctl-redirect 15 main start\n"


def test_cluster_that_never_answers_is_an_error(dev_module, tmp_path, monkeypatch):
    conf = tmp_path / "etc" / "15" / "main" / "postgresql.conf"
    conf.parent.mkdir(parents=True)
    conf.touch()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_executable(bin_dir / "pg_ctlcluster", "exit 1\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(dev_module.DevError, match="did not accept connections"):
        dev_module.ensure_postgres(
            "127.0.0.1", 5432, config_dir=tmp_path / "etc", wait_seconds=0, is_ready=lambda host, port: False
        )


def test_first_failing_stage_stops_the_run(dev_module, tmp_path, capsys):
    marker = tmp_path / "ran"
    code = dev_module.run_stages(
        [
            ("passes", [sys.executable, "-c", "pass"]),
            ("no tests collected", [sys.executable, "-c", "raise SystemExit(5)"]),
            ("never", [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]),
        ]
    )
    assert code == 5  # pytest's "no tests collected" status is a failure, not a pass
    assert not marker.exists()
    out = capsys.readouterr().out
    assert "==> passes" in out
    assert "FAILED: no tests collected (exit status 5" in out


def test_lint_stages_cover_ruff_mypy_and_hadolint(dev_module):
    commands = [[Path(str(cmd[0])).name, *map(str, cmd[1:])] for _, cmd in dev_module.lint_stages()]
    assert commands == [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
        ["hadolint", "Dockerfile"],
    ]


@pytest.fixture
def ci_checkout(tmp_path):
    """A copy of .ci/run with stand-ins for python3, pg_isready and pg_ctlcluster that log their calls."""
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy2(ROOT / ".ci" / "run", checkout / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    up = tmp_path / "up"
    write_executable(bin_dir / "python3", f'echo "python3 $*" >> {log}\nread -r line || echo "stdin closed" >> {log}\n')
    write_executable(bin_dir / "pg_isready", f'echo "pg_isready $*" >> {log}\n[ -e {up} ]\n')
    write_executable(bin_dir / "pg_ctlcluster", f'echo "pg_ctlcluster $*" >> {log}\ntouch {up}\n')
    conf = tmp_path / "etc" / "15" / "main" / "postgresql.conf"
    conf.parent.mkdir(parents=True)
    conf.touch()
    for tool in ("bash", "dirname", "basename", "seq", "sleep", "touch"):  # what the script and stand-ins use
        real = shutil.which(tool)
        assert real is not None, tool
        (bin_dir / tool).symlink_to(real)
    env = {
        **os.environ,
        "PATH": str(bin_dir),
        "PLANNER_POSTGRES_CONFIG_DIR": str(tmp_path / "etc"),
        "CI": "true",
    }
    return checkout, env, log, up


def test_ci_starts_a_stopped_cluster_then_runs_the_readme_test_command(ci_checkout):
    checkout, env, log, _up = ci_checkout
    result = subprocess.run(
        ["bash", ".ci/run", "-k", "smoke"], cwd=checkout, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = log.read_text().splitlines()
    assert "pg_ctlcluster --skip-systemctl-redirect 15 main start" in lines
    assert lines[-2:] == ["python3 ./dev test -k smoke", "stdin closed"]
    assert lines.index("pg_ctlcluster --skip-systemctl-redirect 15 main start") < lines.index(lines[-2])


def test_ci_leaves_a_running_server_alone(ci_checkout):
    checkout, env, log, up = ci_checkout
    up.touch()
    result = subprocess.run(["bash", ".ci/run"], cwd=checkout, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert not any(line.startswith("pg_ctlcluster") for line in log.read_text().splitlines())


def test_ci_fails_when_postgres_is_not_installed(ci_checkout):
    checkout, env, log, _up = ci_checkout
    (Path(env["PATH"].split(os.pathsep)[0]) / "pg_ctlcluster").unlink()
    result = subprocess.run(["bash", ".ci/run"], cwd=checkout, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "pg_ctlcluster is not installed" in result.stderr
    assert not any(line.startswith("python3") for line in log.read_text().splitlines())


def test_editable_link_is_detected_from_the_pth_file(dev_module, tmp_path):
    site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "distutils-precedence.pth").write_text("import os\n")
    assert not dev_module.project_linked(tmp_path / ".venv", ROOT)
    (site / "_editable_impl_traffic_planner.pth").write_text(f"{ROOT}/elsewhere\n")
    assert not dev_module.project_linked(tmp_path / ".venv", ROOT)
    (site / "_editable_impl_traffic_planner.pth").write_text(f"{ROOT}\n")
    assert dev_module.project_linked(tmp_path / ".venv", ROOT)


def test_this_checkout_is_linked_into_its_environment(dev_module):
    assert dev_module.project_linked(dev_module.VENV, ROOT)
    result = subprocess.run(
        [str(dev_module.VENV_BIN / "python"), "-c", "import planner, sys; sys.stdout.write(planner.__file__)"],
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(result.stdout) == ROOT / "planner" / "__init__.py"
