"""ansible-lint (production profile) and yamllint over roles, playbooks and the lab inventory."""

from tests.roles.conftest import run, tool


def test_yamllint_is_clean():
    result = run([tool("yamllint"), "--strict", "roles", "playbooks", "inventory", "schemas/roles"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile_is_clean():
    result = run(
        [tool("ansible-lint"), "--profile", "production", "--offline", "roles", "playbooks"],
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]


def test_playbooks_pass_syntax_check():
    for playbook in ("site.yml", "validate.yml", "drift.yml"):
        result = run([tool("ansible-playbook"), "--syntax-check", f"playbooks/{playbook}"])
        assert result.returncode == 0, result.stdout + result.stderr
