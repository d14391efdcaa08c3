"""Role variables are checked against schemas/roles/*.yaml before any host is touched, and
`appliance validate --as/--staged` checks a file in the context of the whole configuration."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from appliance.config.role_vars import role_names, validate_role_vars
from tests.roles.conftest import REPO, run, tool


def test_every_role_has_a_schema_covering_its_defaults():
    for role in (
        "appliance",
        "appliance_pki",
        "appliance_ldap",
        "appliance_logging",
        "appliance_transfers",
        "dmz_firewall",
    ):
        assert role in role_names()
        defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
        schema = yaml.safe_load((REPO / "schemas" / "roles" / f"{role}.yaml").read_text())
        assert set(defaults) == set(schema["variables"]), role
        specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
        assert set(specs["argument_specs"]["main"]["options"]) == set(defaults), role


def test_lab_inventory_passes_validate_playbook():
    result = run([tool("ansible-playbook"), "playbooks/validate.yml"])
    assert result.returncode == 0, result.stdout[-4000:]


def test_wrong_variable_stops_the_play_naming_it(tmp_path):
    extra = tmp_path / "wrong.json"
    extra.write_text(
        json.dumps(
            {
                "appliance_services": {"sftp-public": {"type": "ssh", "port": 70000}},
                "dmz_firewall_service_zones": {"sftp-public": ["extranet"]},
            }
        )
    )
    result = run([tool("ansible-playbook"), "-e", f"@{extra}", "playbooks/site.yml"])
    assert result.returncode != 0
    assert "appliance_services.sftp-public.port: expected at most 65535" in result.stdout
    # Nothing ran on a host: the first play (validate.yml) stopped everything.
    assert "Gathering Facts" not in result.stdout


def test_role_var_problems_name_variable_and_expectation():
    problems = validate_role_vars(
        {
            "appliance_services": {"ftp": {"type": "ftp", "port": 21, "pasive_port_range": "1-2"}},
            "appliance_ldap_urls": ["http://ldap.example.test"],
            "appliance_pki_ssh_host_key_types": ["dsa"],
            "dmz_firewall_zones": {"internet": ["0.0.0.0/0"]},
            "dmz_firewall_default_zones": ["dmz"],
            "appliance_typo_variable": True,
        }
    )
    text = "\n".join(problems)
    assert (
        "appliance_services.ftp.pasive_port_range: unknown server.ini option; did you mean" in text
    )
    assert "appliance_ldap_urls: expected a URL like ldap://host:port" in text
    assert "appliance_pki_ssh_host_key_types" in text and "dsa" in text
    assert "unknown zone 'dmz'" in text
    assert "appliance_typo_variable: unknown variable of role appliance" in text


def test_balancer_nodes_need_distinct_passive_ranges():
    """The balancer sends each passive range to one node: two nodes sharing ports would see
    each other's data connections."""
    nodes = [
        {"name": "node-a", "address": "10.0.0.11", "passive_port_ranges": {"ftp": "30000-30049"}},
        {"name": "node-b", "address": "10.0.0.12", "passive_port_ranges": {"ftp": "30040-30099"}},
        {"name": "node-c", "address": "10.0.0.13", "passive_port_ranges": {"ftp": "30100-30149",
                                                                            "ftps": "30000-30049"}},
    ]  # fmt: skip
    problems = validate_role_vars({"appliance_lb_nodes": nodes}, ["appliance_lb"])
    assert problems == [
        "appliance_lb_nodes.node-b: passive_port_ranges.ftp 30040-30099 overlaps node-a's "
        "30000-30049; expected a distinct range per node (the balancer sends each range to "
        "one node)"
    ]
    nodes[1]["passive_port_ranges"]["ftp"] = "30050-30099"
    assert validate_role_vars({"appliance_lb_nodes": nodes}, ["appliance_lb"]) == []
    nodes[1]["passive_port_ranges"]["ftp"] = "30099-30050"
    assert validate_role_vars({"appliance_lb_nodes": nodes}, ["appliance_lb"]) == [
        "appliance_lb_nodes.node-b: passive_port_ranges.ftp 30099-30050; expected LOW-HIGH "
        "with 1024 <= LOW <= HIGH <= 65535"
    ]


def test_validate_as_and_staged(tmp_path):
    appliance = [sys.executable, "-m", "appliance"]
    config = tmp_path / "config"
    subprocess.run([*appliance, "init", str(config)], check=True, capture_output=True)
    staged = tmp_path / "staged"
    (staged / "server.d").mkdir(parents=True)
    server_ini = (config / "server.ini").read_text()
    # A chain naming a section that only a staged fragment defines.
    (staged / "server.ini").write_text(
        server_ini.replace(
            "authentications = local-accounts", "authentications = local-accounts, corp"
        )
    )
    fragment = staged / "server.d" / "50-ldap.ini"
    fragment.write_text("[authentications/corp]\ntype = ldap\nurl = ldap://127.0.0.1:3389\n")
    alone = subprocess.run(
        [*appliance, "validate", str(staged / "server.ini"), "--as", str(config / "server.ini")],
        capture_output=True,
        text=True,
    )
    assert alone.returncode == 1
    assert "server.ini:server:authentications: refers to [authentications/corp]" in alone.stdout
    together = subprocess.run(
        [
            *appliance,
            "validate",
            "--staged",
            str(staged),
            str(staged / "server.ini"),
            "--as",
            str(config / "server.ini"),
        ],
        capture_output=True,
        text=True,
    )
    assert together.returncode == 0, together.stdout
