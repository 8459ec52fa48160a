#!/bin/bash
# Floe set-up on Debian 12, as root. One script, three verbs:
#   tools/setup.sh run    install packages, build, start floed on its embedded
#                         PostgreSQL with a demo domain and account
#   tools/setup.sh test   install packages, build with -Werror, run `make check`
#   tools/setup.sh stop   stop the floed started by "run"
# Builds happen in ./build (out of tree); "run" keeps its state in ./var.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
verb=${1:-}

BUILD_PACKAGES="build-essential autoconf automake pkg-config libevent-dev libssl-dev libpq-dev
	libxml2-dev libical-dev libjansson-dev libgmime-3.0-dev libsodium-dev zlib1g-dev
	libhttp-parser-dev"
RUN_PACKAGES="postgresql-15 openssl ca-certificates curl"
# Real clients and independent implementations the protocol tests drive:
# mbsync (isync) and python3-imap-tools for IMAP, libwbxml2-utils as a
# second WBXML codec, Postfix delivering over LMTP.
TEST_PACKAGES="python3 python3-pytest isync python3-imap-tools libwbxml2-utils postfix"

say() { printf '==> %s\n' "$*"; }

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "tools/setup.sh: run this as root (it installs Debian packages)" >&2
		exit 1
	fi
}

install_packages() {
	need_root
	# The server binaries are all Floe needs: no system-wide "main" cluster.
	mkdir -p /etc/postgresql-common/createcluster.d
	echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/floe.conf
	say "installing Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	# Postfix is only a test client: no system-wide configuration or service.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $BUILD_PACKAGES $RUN_PACKAGES "$@" >/dev/null
}

ensure_user() {
	if ! getent passwd floe >/dev/null; then
		say "creating system user floe"
		useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin floe
	fi
}

build() {
	say "building (in ./build)"
	autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
	mkdir -p build
	cd build
	if [ ! -f Makefile ] || [ ../configure -nt Makefile ]; then
		../configure --sysconfdir=/etc --enable-werror "$@" >/dev/null
	fi
	make -j"$(nproc)" >/dev/null
	cd "$top"
}

summary() {
	# Every TAP test point of every test program, as one closing line.
	local pass fail skip
	pass=$(cat build/tests/*/*.trs 2>/dev/null | grep -c '^:test-result: PASS' || true)
	skip=$(cat build/tests/*/*.trs 2>/dev/null | grep -c '^:test-result: SKIP' || true)
	fail=$(cat build/tests/*/*.trs 2>/dev/null | grep -c -E '^:test-result: (FAIL|ERROR|XPASS)' || true)
	echo "$pass passed, $fail failed, $skip skipped"
}

case "$verb" in
run)
	install_packages
	ensure_user
	build
	var="$top/var"
	mkdir -p "$var/state" "$var/tls"
	chown floe: "$var/state"
	if [ ! -f "$var/tls/cert.pem" ]; then
		say "generating a self-signed certificate for $(hostname -f 2>/dev/null || hostname)"
		openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=$(hostname)" \
			-keyout "$var/tls/key.pem" -out "$var/tls/cert.pem" 2>/dev/null
		chmod 600 "$var/tls/key.pem"
	fi
	if [ ! -f "$var/floe.conf" ]; then
		cat > "$var/floe.conf" <<CONF
# Quick-start configuration written by tools/setup.sh run; see etc/floe.conf
# for every key.
[server]
state_dir = $var/state
user = floe
[db]
url = local
[tls]
cert = $var/tls/cert.pem
key = $var/tls/key.pem
[http]
listen = 0.0.0.0:8080
listen_tls = 0.0.0.0:8443
[imap]
listen = 0.0.0.0:143
listen_tls = 0.0.0.0:993
[smtp]
listen = 0.0.0.0:587
listen_tls = 0.0.0.0:465
[lmtp]
listen = 127.0.0.1:24
[pop3]
listen = 0.0.0.0:110
listen_tls = 0.0.0.0:995
CONF
	fi
	build/floed --config "$var/floe.conf" --check
	if [ -f "$var/state/floed.pid" ] && kill -0 "$(cat "$var/state/floed.pid")" 2>/dev/null; then
		say "floed already running (pid $(cat "$var/state/floed.pid"))"
	else
		say "starting floed (log: $var/state/floed.log)"
		build/floed --config "$var/floe.conf"
	fi
	for _ in $(seq 1 120); do
		curl -fsS http://127.0.0.1:8080/floe/health >/dev/null 2>&1 && break
		sleep 0.5
	done
	curl -fsS http://127.0.0.1:8080/floe/health >/dev/null || {
		echo "floed did not become healthy; see $var/state/floed.log" >&2
		exit 1
	}
	ctl="build/floectl --config $var/floe.conf"
	$ctl domain list | grep -qw example.com || $ctl domain add example.com
	if ! $ctl user show demo@example.com >/dev/null 2>&1; then
		$ctl user add demo@example.com --password demo --display-name "Demo User"
	fi
	cat <<DONE

Floe is running (pid $(cat "$var/state/floed.pid")), on its embedded PostgreSQL.
  Demo account:  demo@example.com   password: demo
  Health:        curl http://127.0.0.1:8080/floe/health
  HTTPS:         https://$(hostname):8443/   (self-signed certificate in $var/tls)
  IMAP:          $(hostname):143 (STARTTLS), :993 (TLS)
  Administer:    build/floectl --config $var/floe.conf --help
  Stop:          tools/setup.sh stop
DONE
	;;
stop)
	pidfile="$top/var/state/floed.pid"
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		kill -TERM "$(cat "$pidfile")"
		say "floed stopping"
	else
		say "floed is not running"
	fi
	;;
test)
	install_packages $TEST_PACKAGES
	ensure_user
	build
	say "running make check"
	status=0
	make -C build check -j"$(nproc)" || status=$?
	if [ $status -ne 0 ]; then
		for log in build/tests/*/*.log; do
			if grep -q -E '^(not ok|FAIL|ERROR)' "$log" 2>/dev/null; then
				echo "---- $log"
				tail -n 80 "$log"
			fi
		done
	fi
	summary
	exit $status
	;;
*)
	echo "usage: tools/setup.sh run|test|stop" >&2
	exit 2
	;;
esac
