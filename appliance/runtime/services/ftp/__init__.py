"""FTP, explicit FTPS (AUTH TLS) and implicit FTPS on pyftpdlib, over the shared AAA and VFS."""

from appliance.runtime.services.ftp.service import FTPService

__all__ = ["FTPService"]
