"""AAA core: authentication methods, authorization (permissions) and brute-force bans."""
