#!/usr/bin/env bash
# install-test-deps.sh installs the system packages the black-box tests use:
# kcat (librdkafka's command-line client). It is idempotent: it does nothing
# when every tool is already on PATH. It runs as root, or through sudo when
# not root, and never reads standard input.
set -euo pipefail
bash "$(dirname "$0")/install-compat-deps.sh" # the client libraries of the compatibility matrix (compat/)

need=()
command -v kcat >/dev/null 2>&1 || need+=(kcat)

if [ ${#need[@]} -eq 0 ]; then
	echo "install-test-deps: nothing to install"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null 2>&1; then
	sudo=(sudo -n)
else
	echo "install-test-deps: need root or sudo to install: ${need[*]}" >&2
	exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: no apt-get; install by hand: ${need[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: installing ${need[*]}"
"${sudo[@]}" apt-get update -q </dev/null
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null
command -v kcat >/dev/null
echo "install-test-deps: installed $(kcat -V 2>&1 | head -n1)"
