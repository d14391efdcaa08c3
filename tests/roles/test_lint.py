"""ansible-lint (production profile, .ansible-lint) and yamllint (--strict) over the whole
repository; the site playbook's tags."""

import re

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


def test_site_playbook_has_tags_for_each_concern():
    """`--tags appliance_config` (or _install, _service, a role's name) runs that part only."""
    result = run([tool("ansible-playbook"), "--list-tags", "playbooks/site.yml"])
    assert result.returncode == 0, result.stdout + result.stderr
    lists = re.findall(r"TASK TAGS: \[(.*?)\]", result.stdout)
    listed = set(re.findall(r"[a-z_]+", " ".join(lists)))
    wanted = {"appliance_install", "appliance_config", "appliance_service", "appliance_pki",
              "appliance_ldap", "appliance_logging", "appliance_transfers", "dmz_firewall",
              "always"}  # fmt: skip
    assert wanted <= listed, f"missing tags: {sorted(wanted - listed)}"
