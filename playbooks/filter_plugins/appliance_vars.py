"""Filter `appliance_role_var_problems`: role variables checked against schemas/roles/*.yaml.

Runs on the control node, before any host is changed. It uses the appliance package of this
repository (installed, or imported from the checkout next to this folder).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _validate_role_vars():
    try:
        from appliance.config.role_vars import validate_role_vars
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from appliance.config.role_vars import validate_role_vars
    return validate_role_vars


def appliance_role_var_problems(variables, role):
    """Problems ("VARIABLE: what was expected") with the variables of `role`; [] when valid."""
    plain = json.loads(json.dumps(dict(variables), default=str))
    return _validate_role_vars()(plain, [role])


class FilterModule:
    def filters(self):
        return {"appliance_role_var_problems": appliance_role_var_problems}
