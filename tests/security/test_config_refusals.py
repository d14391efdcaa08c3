"""Careless configurations caught by `appliance validate` (and so by `serve` and `reload`):
folders that cannot exist, home folders that climb out or hold the configuration; a BOM and
an unclosed section header reported for what they are."""

from __future__ import annotations

from tests.security.hardening_site import appliance_cli, hardening_appliance


def _config(tmp_path, server_options: str = "", extra: str = ""):
    app = hardening_appliance(tmp_path, server_options=server_options)
    app.extra += extra
    return app, app.write_config()


def test_a_data_folder_under_a_regular_file_is_refused_by_validate_and_serve(tmp_path):
    app, ini = _config(tmp_path, server_options="data_folder = notes.txt/data")
    (app.root / "notes.txt").write_text("a file, not a folder\n")
    run = appliance_cli("validate", str(ini))
    assert run.returncode == 1
    assert f"{ini}:server:data_folder:" in run.stdout
    assert "notes.txt exists and is not a folder" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    serve = appliance_cli("serve", "-c", str(app.root))
    assert serve.returncode == 1
    assert "Traceback" not in serve.stdout + serve.stderr
    assert "server:data_folder:" in serve.stderr


def test_home_folders_that_climb_out_or_hold_the_configuration_are_refused(tmp_path):
    app, ini = _config(tmp_path)
    text = ini.read_text().replace(
        "home_folder_path = files/${USER}", "home_folder_path = ../../.."
    )
    ini.write_text(text)
    run = appliance_cli("validate", str(ini))
    assert run.returncode == 1
    assert f"{ini}:groups/users:home_folder_path:" in run.stdout
    assert "climbs out with '..'" in run.stdout

    ini.write_text(text.replace("home_folder_path = ../../..", "home_folder_path = ."))
    run = appliance_cli("validate", str(ini))
    assert run.returncode == 1
    assert "would contain" in run.stdout

    ini.write_text(text.replace("home_folder_path = ../../..", "home_folder_path = files/${USER}"))
    run = appliance_cli("validate", str(ini))
    assert run.returncode == 0, run.stdout


def test_a_utf8_bom_is_accepted(tmp_path):
    _app, ini = _config(tmp_path)
    ini.write_bytes(b"\xef\xbb\xbf" + ini.read_bytes())
    run = appliance_cli("validate", str(ini))
    assert run.returncode == 0, run.stdout


def test_an_unclosed_section_header_is_reported_as_such(tmp_path):
    _app, ini = _config(tmp_path)
    ini.write_text(ini.read_text().replace("[services/ftp]", "[services/ftp", 1))
    run = appliance_cli("validate", str(ini))
    assert run.returncode == 1
    assert "section header '[services/ftp' is not closed" in run.stdout
    assert "set twice" not in run.stdout
