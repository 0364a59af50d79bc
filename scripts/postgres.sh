#!/usr/bin/env bash
# postgres.sh runs a throwaway PostgreSQL server on loopback for the tests of
# the control-plane store (internal/store). It uses Debian's PostgreSQL
# binaries, never reads standard input, and works with CI=true.
#
#   postgres.sh install          install Debian's postgresql package when no
#                                PostgreSQL binaries are found (idempotent;
#                                silent when they are)
#   postgres.sh installed        exit 0 if the binaries are found, else 1
#                                with a hint
#   postgres.sh bindir           print the directory of initdb and pg_ctl
#   postgres.sh start DIR PORT   initdb into DIR/data (once), start a server
#                                listening on 127.0.0.1:PORT only (no Unix
#                                socket), wait until it accepts connections,
#                                print its URL on stdout:
#                                postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
#   postgres.sh stop DIR         stop the server started in DIR and wait
#                                (fast shutdown; idempotent)
#
# The server is for tests: trust authentication for 127.0.0.1 only (anyone
# on this machine can connect as the superuser "postgres"), and fsync,
# synchronous_commit and full_page_writes are off, so a crash of the machine
# may lose the data. PostgreSQL refuses to run as root; as root, DIR/data is
# owned by and the server runs as $POSTGRES_RUN_AS (default nobody).
#
# Environment:
#   POSTGRES_BINDIR            the binaries' directory (default: the newest
#                              /usr/lib/postgresql/*/bin, else initdb's on PATH)
#   POSTGRES_RUN_AS            as root: the user that owns DIR/data and runs
#                              the server (default nobody)
#   POSTGRES_START_TIMEOUT     seconds start waits for readiness (default 60)
#   OCTOPUS_POSTGRES_OWNER_PID with start: a watchdog stops the server and
#                              removes DIR once this process has exited (the
#                              Go tests use it so a killed test run leaves no
#                              server behind)
set -euo pipefail
exec </dev/null

die() {
	echo "postgres.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

# find_bindir prints the directory holding initdb, pg_ctl and postgres, or
# fails.
find_bindir() {
	if [ -n "${POSTGRES_BINDIR:-}" ]; then
		[ -x "$POSTGRES_BINDIR/initdb" ] || return 1
		echo "$POSTGRES_BINDIR"
		return 0
	fi
	local d best="" v bestv=0
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] || continue
		v=$(basename "$(dirname "$d")")
		v=${v%%.*}
		[[ $v =~ ^[0-9]+$ ]] || continue
		if [ "$v" -gt "$bestv" ]; then
			best=$d
			bestv=$v
		fi
	done
	if [ -n "$best" ]; then
		echo "$best"
		return 0
	fi
	local initdb
	initdb=$(command -v initdb 2>/dev/null) || return 1
	# Debian's /usr/local/bin links point into /usr/lib/postgresql/N/bin;
	# pg_ctl finds postgres next to its real path.
	initdb=$(readlink -f "$initdb")
	d=$(dirname "$initdb")
	[ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] || return 1
	echo "$d"
}

cmd_install() {
	if find_bindir >/dev/null; then
		return 0
	fi
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "need root or sudo to install postgresql"
		sudo=(sudo -n)
	fi
	command -v apt-get >/dev/null 2>&1 || die "no apt-get; install PostgreSQL by hand (initdb, pg_ctl, postgres)"
	export DEBIAN_FRONTEND=noninteractive
	echo "postgres.sh: installing postgresql"
	"${sudo[@]}" apt-get update -q
	"${sudo[@]}" apt-get install -y -q --no-install-recommends postgresql
	local bindir
	bindir=$(find_bindir) || die "postgresql installed, but no initdb found under /usr/lib/postgresql/*/bin"
	echo "postgres.sh: installed $("$bindir/postgres" --version)"
}

cmd_installed() {
	if find_bindir >/dev/null; then
		return 0
	fi
	echo "postgres.sh: PostgreSQL binaries (initdb, pg_ctl, postgres) not found; run 'scripts/postgres.sh install' (Debian package postgresql) or set POSTGRES_BINDIR" >&2
	return 1
}

# as_owner runs its arguments as the server's user: this user when not root,
# else $POSTGRES_RUN_AS.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "${POSTGRES_RUN_AS:-nobody}" -- "$@"
	else
		"$@"
	fi
}

# port_open reports whether something accepts TCP connections on 127.0.0.1:$1.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_start() {
	[ $# -eq 2 ] || usage
	local dir=$1 port=$2 bindir
	[[ $port =~ ^[0-9]+$ ]] || die "PORT $port is not a number"
	bindir=$(find_bindir) || {
		cmd_installed
		exit 1
	}
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local data=$dir/data
	if [ -f "$data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1; then
		die "a server is already running from $data"
	fi
	port_open "$port" && die "127.0.0.1:$port is already in use"

	if [ "$(id -u)" -eq 0 ]; then
		local user=${POSTGRES_RUN_AS:-nobody}
		id "$user" >/dev/null 2>&1 || die "POSTGRES_RUN_AS=$user: no such user"
		# The server's user must reach DIR (mktemp makes it 0700).
		chmod 0755 "$dir"
		mkdir -p "$data"
		chown "$user" "$data"
		chmod 0700 "$data"
	fi

	if [ ! -f "$data/PG_VERSION" ]; then
		# initdb writes to the current directory's parent on some versions'
		# error paths; run it from DIR, which the owner can read.
		(cd "$dir" && as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1) ||
			die "initdb $data failed:
$(tail -n 20 "$dir/initdb.log")"
		# Loopback TCP only: no Unix socket (its default directory is
		# root's), no other address.
		cat >>"$data/postgresql.conf" <<EOF

# Written by scripts/postgres.sh: a throwaway test server on loopback.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
log_min_messages = warning
log_min_error_statement = panic
EOF
		cat >"$data/pg_hba.conf" <<EOF
# Written by scripts/postgres.sh: trust on 127.0.0.1 only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  trust
EOF
	fi

	local timeout=${POSTGRES_START_TIMEOUT:-60}
	(cd "$dir" && as_owner "$bindir/pg_ctl" start -D "$data" -o "-p $port" \
		-l "$data/server.log" -w -t "$timeout" >"$dir/pg_ctl.log" 2>&1) || {
		local log=""
		[ -f "$data/server.log" ] && log=$(tail -n 30 "$data/server.log")
		die "PostgreSQL did not start on 127.0.0.1:$port:
$(cat "$dir/pg_ctl.log")
$log"
	}
	echo "$port" >"$dir/port"
	if [ -n "${OCTOPUS_POSTGRES_OWNER_PID:-}" ]; then
		start_watchdog "$dir" "$OCTOPUS_POSTGRES_OWNER_PID"
	fi
	# pg_ctl -w waited for the "ready" mark in postmaster.pid; the TCP
	# listener is open by then.
	local i
	for i in $(seq 1 50); do
		port_open "$port" && break
		sleep 0.1
	done
	port_open "$port" || die "PostgreSQL started but 127.0.0.1:$port does not answer"
	echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

# start_watchdog stops the server in $1 and removes $1 once process $2 exits.
start_watchdog() {
	local dir=$1 owner=$2 self
	self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
	setsid bash -c '
		while kill -0 "$1" 2>/dev/null; do sleep 1; done
		bash "$2" stop "$3" >/dev/null 2>&1
		rm -rf "$3"
	' _ "$owner" "$self" "$dir" </dev/null >/dev/null 2>&1 &
	echo "$!" >"$dir/watchdog.pid"
}

cmd_stop() {
	[ $# -eq 1 ] || usage
	local dir=$1 data=$1/data bindir
	if [ ! -f "$data/postmaster.pid" ]; then
		echo "postgres.sh: no server running from $dir" >&2
		return 0
	fi
	bindir=$(find_bindir) || die "PostgreSQL binaries not found"
	if ! (cd "$dir" && as_owner "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 30 >"$dir/pg_ctl.log" 2>&1); then
		# pg_ctl also fails when the pid file is stale (the server is
		# gone); then the file is removed, else the failure stands.
		if (cd "$dir" && as_owner "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1); then
			die "pg_ctl stop failed: $(cat "$dir/pg_ctl.log")"
		fi
		rm -f "$data/postmaster.pid"
	fi
	echo "stopped $dir"
}

[ $# -ge 1 ] || usage
sub=$1
shift
case $sub in
install) cmd_install ;;
installed) cmd_installed ;;
bindir) find_bindir || cmd_installed ;;
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
