#!/bin/sh
# pg_ctl for pytest-postgresql: initdb refuses to run as root, so as root run it inside a user
# namespace where we are an ordinary user.
PG_CTL="${PG_BINDIR:-/usr/lib/postgresql/15/bin}/pg_ctl"
[ "$(id -u)" = 0 ] && exec unshare --user --map-user=1000 --map-group=1000 "$PG_CTL" "$@"
exec "$PG_CTL" "$@"
