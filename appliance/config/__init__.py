"""Configuration: load server.ini (+ server.d/*.ini), validate it against schemas/, typed access.

One function validates everywhere: the runtime at start and reload, `appliance validate`
(which Ansible's `template: validate:` calls) and the tests.
"""

from appliance.config.loader import ConfigError, load_config, validate_path
from appliance.config.model import Config, Problem, Section

__all__ = ["Config", "ConfigError", "Problem", "Section", "load_config", "validate_path"]
