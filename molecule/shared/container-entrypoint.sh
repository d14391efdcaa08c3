#!/bin/sh
# The lab container's command. Molecule creates the container before the roles have run, so
# this waits until the appliance role has installed its entrypoint and server.ini, then
# becomes the appliance itself: `exec` leaves the appliance as the container's foreground
# process (PID 1), running as the appliance user, exactly as a production container runs it.
set -eu
entrypoint=${APPLIANCE_ENTRYPOINT:-/opt/appliance/appliance-foreground}
config=${APPLIANCE_CONFIG:-/etc/appliance/server.ini}
user=${APPLIANCE_USER:-appliance}
trap 'exit 0' TERM INT
while ! { [ -x "$entrypoint" ] && [ -f "$config" ] && id "$user" >/dev/null 2>&1; }; do
  sleep 1
done
exec setpriv --reuid="$user" --regid="$user" --init-groups "$entrypoint"
