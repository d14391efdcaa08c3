"""Active-passive sync, promote and failback (built by the HA issue)."""
