"""The SSH service (SFTP and SCP on asyncssh), a thin adapter onto AAA, VirtualFS and events."""

from appliance.runtime.services.ssh.service import SSHService

__all__ = ["SSHService"]
