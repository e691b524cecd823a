# Sourced by the scripts that start or talk to the local Ray head: Ray's token auth is always on
# and every Ray server binds to loopback. Nothing here can be switched off by the caller.
export RAY_AUTH_MODE=token
export RAY_AUTH_TOKEN_PATH="${RAY_AUTH_TOKEN_PATH:-$HOME/.ray/auth_token}"
# On Linux Ray takes the primary interface's address as the node IP and binds its servers (GCS,
# raylet, object manager, workers, agents) to it; this makes the node IP 127.0.0.1 instead (what
# Ray does by default on macOS/Windows), so nothing of Ray is reachable off the machine.
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
if [ ! -s "$RAY_AUTH_TOKEN_PATH" ]; then
  # A 256-bit token readable only by this user (Ray's own generator does not restrict the mode).
  (umask 077 && mkdir -p "$(dirname "$RAY_AUTH_TOKEN_PATH")" &&
   python3 -c 'import secrets; print(secrets.token_hex(32), end="")' > "$RAY_AUTH_TOKEN_PATH")
fi
