#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server on a loopback port, installing Debian's
# postgresql package when it is missing; ALTA_TEST_POSTGRES_URL points the tests at it.
set -euo pipefail

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pgbin)" ]; then
  echo "installing postgresql (Debian package)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
BIN=$(pgbin)
AS=()
if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); fi  # initdb refuses to run as root

DIR=$(mktemp -d)
[ "$(id -u)" = 0 ] && chown postgres "$DIR"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${AS[@]}" "$BIN/initdb" -D "$DIR/data" -A trust -U alta >/dev/null
"${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
trap '"${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null; rm -rf "$DIR"' EXIT
"${AS[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U alta alta

ALTA_TEST_POSTGRES_URL="postgresql+psycopg://alta@127.0.0.1:$PORT/alta" "$@"
