"""ansible-lint (production profile, .ansible-lint) and yamllint (--strict) over the whole repository."""

from tests.conftest import REPO
from tests.roles.conftest import run, tool


def test_yamllint_is_clean():
    result = run([tool("yamllint"), "--strict", "."])
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile_is_clean():
    result = run(
        [tool("ansible-lint"), "--profile", "production", "--offline"],
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]


def test_playbooks_pass_syntax_check():
    playbooks = sorted(path.name for path in (REPO / "playbooks").glob("*.yml"))
    assert {"site.yml", "validate.yml", "drift.yml", "sync.yml", "promote.yml"} <= set(playbooks)
    for playbook in playbooks:
        result = run([tool("ansible-playbook"), "--syntax-check", f"playbooks/{playbook}"])
        assert result.returncode == 0, result.stdout + result.stderr
