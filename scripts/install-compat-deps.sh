#!/usr/bin/env bash
# install-compat-deps.sh installs the pinned client libraries of the
# compatibility matrix (compat/, test/compat_test.go):
#   - Python: confluent-kafka, kafka-python, aiokafka into compat/python/.venv
#     from compat/python/requirements.txt;
#   - Node.js: kafkajs into compat/node/node_modules with `npm ci` from the
#     committed package-lock.json;
#   - Java: kafka-clients (and slf4j-simple) into the local Maven repository,
#     the scenario compiled to compat/java/target/classes and its runtime
#     jars copied to compat/java/target/lib.
# The Go clients come from go.mod and kcat from scripts/install-test-deps.sh.
#
# It is idempotent (each part is skipped when its stamp matches the pinned
# manifest), non-interactive (no standard input), and prints what it
# installed. It needs python3 (with venv), npm and mvn on PATH; a missing
# toolchain fails the script under CI and is skipped with a warning
# otherwise.
set -euo pipefail
exec </dev/null

root=$(cd "$(dirname "$0")/.." && pwd)
compat="$root/compat"
start=$SECONDS
failed=0

say() { echo "install-compat-deps: $*"; }

# need TOOL: true when TOOL is on PATH; otherwise fails (CI) or warns.
need() {
	if command -v "$1" >/dev/null 2>&1; then
		return 0
	fi
	if [ -n "${CI:-}" ]; then
		say "ERROR: $1 not on PATH"
		failed=1
	else
		say "WARNING: $1 not on PATH; skipping what needs it"
	fi
	return 1
}

# fresh STAMP FILE...: true when STAMP holds the checksum of FILEs.
fresh() {
	local stamp=$1
	shift
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(cat "$@" | sha256sum | cut -d' ' -f1)" ]
}

stamp() {
	local stamp=$1
	shift
	cat "$@" | sha256sum | cut -d' ' -f1 >"$stamp"
}

# Python: one venv for the three Python clients.
py_stamp="$compat/python/.venv/.installed"
if need python3; then
	if fresh "$py_stamp" "$compat/python/requirements.txt"; then
		say "python: up to date"
	else
		t=$SECONDS
		python3 -m venv "$compat/python/.venv"
		"$compat/python/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
			--no-input -r "$compat/python/requirements.txt"
		stamp "$py_stamp" "$compat/python/requirements.txt"
		say "python: installed in $((SECONDS - t))s"
	fi
	say "python: $("$compat/python/.venv/bin/python" -c '
import confluent_kafka, kafka, aiokafka
v = confluent_kafka.version()
v = v[0] if isinstance(v, tuple) else v
print("confluent-kafka %s (librdkafka %s), kafka-python %s, aiokafka %s" % (
    v, confluent_kafka.libversion()[0], kafka.__version__, aiokafka.__version__))')"
fi

# Node.js: kafkajs from the lock file.
node_stamp="$compat/node/node_modules/.installed"
if need npm && need node; then
	if fresh "$node_stamp" "$compat/node/package-lock.json"; then
		say "node: up to date"
	else
		t=$SECONDS
		(cd "$compat/node" && npm ci --no-audit --no-fund --loglevel=error)
		stamp "$node_stamp" "$compat/node/package-lock.json"
		say "node: installed in $((SECONDS - t))s"
	fi
	say "node: kafkajs $(cd "$compat/node" && node -p 'require("kafkajs/package.json").version') (node $(node --version))"
fi

# Java: dependencies into the local repository, classes and runtime jars
# under target/.
java_stamp="$compat/java/target/.installed"
if need mvn && need java; then
	if fresh "$java_stamp" "$compat/java/pom.xml" "$compat/java/src/main/java/octopus/compat/Scenario.java"; then
		say "java: up to date"
	else
		t=$SECONDS
		rm -rf "$compat/java/target"
		# Maven 3.8 prints colour resets even in batch mode; drop them.
		(cd "$compat/java" && mvn -B -q compile dependency:copy-dependencies) 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
		stamp "$java_stamp" "$compat/java/pom.xml" "$compat/java/src/main/java/octopus/compat/Scenario.java"
		say "java: built in $((SECONDS - t))s"
	fi
	say "java: $(cd "$compat/java/target/lib" && ls | tr '\n' ' ')"
fi

say "done in $((SECONDS - start))s"
exit $failed
