#!/usr/bin/env bash
# fuzz.sh runs every fuzz target in the module for a short while, one
# `go test -fuzz` per target (go test fuzzes one target per invocation).
# Targets are found by grepping *_test.go for `func FuzzXxx(`, so new ones
# are picked up without editing this file. FUZZTIME sets the time per target
# (default 10s).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-10s}"
targets=$(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . |
	grep -v '/\.' | sed -E 's/^(.*)\/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\($/\1 \2/' | sort -u)

if [ -z "$targets" ]; then
	echo "fuzz: no fuzz targets found"
	exit 0
fi

n=0
while read -r dir name; do
	n=$((n + 1))
	echo "fuzz: $dir $name for $fuzztime"
	go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$dir"
done <<<"$targets"
echo "fuzz: $n targets passed"
