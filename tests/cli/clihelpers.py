"""Running the ``planner`` command in-process, and the fixture inputs."""

from pathlib import Path

from click.testing import CliRunner, Result

from planner.cli.main import main

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cli"
SHOP = FIXTURES / "shop"
STRICT = FIXTURES / "strict-profile.yaml"
SHOP_FILES = [SHOP / "cluster.yaml", SHOP / "pods.yaml", SHOP / "service.yaml"]


def run(*args: str | Path, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin, catch_exceptions=False)


def line_of(path: Path, text: str) -> int:
    """1-based line of the only line of ``path`` whose stripped content is ``text``."""
    (number,) = [i for i, line in enumerate(path.read_text().splitlines(), 1) if line.strip() == text]
    return number
