"""Filter `appliance.mft.role_var_problems`: role variables checked against schemas/roles/*.yaml.

Runs on the control node, before any host is changed, with the same validation code as
`appliance validate`: the appliance package when the controller has it installed, otherwise
the sources shipped in this collection (they need cerberus and PyYAML on the controller).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ansible.errors import AnsibleFilterError

COLLECTION_ROOT = Path(__file__).resolve().parents[2]


def _validate_role_vars():
    try:
        from appliance.config.role_vars import validate_role_vars
    except ImportError:
        if str(COLLECTION_ROOT) not in sys.path:
            sys.path.insert(0, str(COLLECTION_ROOT))
        try:
            from appliance.config.role_vars import validate_role_vars
        except ImportError as error:
            raise AnsibleFilterError(
                f"appliance.mft.role_var_problems needs {error.name!r} in the controller's "
                f"Python ({sys.executable}): pip install 'cerberus>=1.3.5' 'pyyaml>=6.0'"
            ) from error
    return validate_role_vars


def role_var_problems(variables, role):
    """Problems ("VARIABLE: what was expected") with the variables of `role`; [] when valid."""
    plain = json.loads(json.dumps(dict(variables), default=str))
    return _validate_role_vars()(plain, [role])


class FilterModule:
    def filters(self):
        return {"role_var_problems": role_var_problems}
