"""Active-passive pair: sync of configuration and keys, promotion (DR drill), failback.

The pair is defined in ha.ini next to server.ini (schemas/ha.yaml); the sync transport is
pyinfra over SSH (paramiko). docs/ha.md describes the whole picture.
"""
