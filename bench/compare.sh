#!/usr/bin/env bash
# compare.sh: run the same bounded workloads, with the same client
# (`octopus bench`, franz-go), against Octopus and franz-go's kfake on this
# machine, one broker at a time, and print a Markdown table with
# Octopus/kfake ratios plus the CSV it was made from.
#
#   bench/compare.sh [--smoke] [--no-octopus] [--duration 10s] [--rounds 1] [--e2e-duration 5s] [--out DIR]
#
# Brokers, in order (each starts fresh on loopback, is measured, and is
# stopped before the next starts):
#   octopus-never    octopus serve --fsync never
#   octopus-always   octopus serve --fsync always
#   kfake-mem        kfake in memory
#   kfake-disk       kfake --data-dir (page cache, no fsync per write)
#   kfake-disk-sync  kfake --data-dir --sync-writes (fsync per write)
# Workloads on each: produce 1 KiB records (acks=all, 8 partitions, 1 MB
# batches) then consume them; the same with 100 B records; and end-to-end
# latency at a fixed 1000 records/s.
#
# --smoke makes every run tiny (a few seconds in all) so CI can prove the
# script works; --no-octopus measures only kfake; --duration sets the length
# of each produce run and the cap of each consume run (default 10s);
# --rounds N repeats the whole sequence N times (brokers interleaved, each
# round on fresh data) and the table shows each figure's median run;
# --e2e-duration sets the length of the latency run (default 5s); --out
# keeps results.csv and results.md in DIR (default: a temporary directory,
# printed at the end). OCTOPUS_BENCH_BIN, if set, is the binary whose
# `bench` command drives the load (default: the octopus built here).
set -euo pipefail

SMOKE=0
NO_OCTOPUS=0
DURATION=10s
ROUNDS=1
E2E_FOR=5s
OUT=""
while [[ $# -gt 0 ]]; do
	case "$1" in
	--smoke) SMOKE=1 ;;
	--no-octopus) NO_OCTOPUS=1 ;;
	--duration) DURATION="$2"; shift ;;
	--rounds) ROUNDS="$2"; shift ;;
	--e2e-duration) E2E_FOR="$2"; shift ;;
	--out) OUT="$2"; shift ;;
	-h | --help) sed -n '2,32p' "$0"; exit 0 ;;
	*) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/octopus-compare.XXXXXX")"
OUT="${OUT:-$WORK}"
mkdir -p "$OUT"
CSV="$OUT/results.csv"
MD="$OUT/results.md"
rm -f "$CSV" "$MD"

BROKER_PID=""
CHILD="" # the command run() is waiting for
stop_broker() {
	if [[ -n "$BROKER_PID" ]]; then
		kill -TERM "$BROKER_PID" 2>/dev/null || true
		# Give it 20 s to shut down cleanly, then kill it.
		for _ in $(seq 200); do
			kill -0 "$BROKER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$BROKER_PID" 2>/dev/null || true
		wait "$BROKER_PID" 2>/dev/null || true
		BROKER_PID=""
	fi
}
cleanup() {
	if [[ -n "$CHILD" ]]; then
		kill -TERM "$CHILD" 2>/dev/null || true
		wait "$CHILD" 2>/dev/null || true
	fi
	stop_broker
	rm -rf "$WORK"/data-* "$WORK/octopus" "$WORK/kfake" "$WORK/times"
	# With --out elsewhere, keep the brokers' logs there and drop the rest.
	if [[ "$OUT" != "$WORK" ]]; then
		mkdir -p "$OUT/logs"
		mv "$WORK"/*.log "$OUT/logs/" 2>/dev/null || true
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "compare: $*" >&2; }
# run logs and runs a command. It runs in the background and is waited for,
# so a SIGTERM to this script is handled at once (bash defers traps while a
# foreground child runs) and the trap can stop it.
run() {
	log "+ $(printf '%q ' "$@")"
	"$@" &
	CHILD=$!
	local rc=0
	wait "$CHILD" || rc=$?
	CHILD=""
	return "$rc"
}

if [[ $SMOKE == 1 ]]; then
	PRODUCE_BOUND=(--records 2000 --duration 2s)
	CONSUME_CAP=5s
	E2E_RATE=200
	E2E_FOR=1s
else
	PRODUCE_BOUND=(--duration "$DURATION")
	CONSUME_CAP="$DURATION"
	E2E_RATE=1000
fi

cd "$ROOT"
TARGETS=()
BENCH="${OCTOPUS_BENCH_BIN:-$WORK/octopus}"
if [[ $NO_OCTOPUS == 0 || -z "${OCTOPUS_BENCH_BIN:-}" ]]; then
	run go build -o "$WORK/octopus" ./cmd/octopus
fi
if [[ $NO_OCTOPUS == 0 ]]; then
	TARGETS+=(octopus-never octopus-always)
fi
run go build -o "$WORK/kfake" ./bench/kfake
TARGETS+=(kfake-mem kfake-disk kfake-disk-sync)

# wait_for FILE PATTERN PID: wait up to 30 s for a line matching PATTERN in
# FILE, failing early if PID exits; prints the line.
wait_for() {
	local file="$1" pat="$2" pid="$3" line
	for _ in $(seq 300); do
		if line="$(grep -m1 -E "$pat" "$file" 2>/dev/null)"; then
			echo "$line"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "broker exited before it was ready:"
			cat "$file" >&2
			return 1
		fi
		sleep 0.1
	done
	log "broker not ready after 30 s:"
	cat "$file" >&2
	return 1
}

# start_broker LABEL: starts the broker, sets BROKER_PID and ADDR.
start_broker() {
	local label="$1" logf="$WORK/$1.log" data="$WORK/data-$1" line
	rm -rf "$data"
	case "$label" in
	octopus-*)
		log "+ octopus serve --data-dir $data --kafka-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --fsync ${label#octopus-} --default-partitions 8"
		"$WORK/octopus" serve --data-dir "$data" --kafka-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
			--fsync "${label#octopus-}" --default-partitions 8 >"$logf" 2>&1 &
		BROKER_PID=$!
		line="$(wait_for "$logf" 'kafka=[^ ]+' "$BROKER_PID")"
		ADDR="$(sed -E 's/.*kafka=([^ ]+).*/\1/' <<<"$line")"
		;;
	kfake-*)
		local extra=()
		case "$label" in
		kfake-disk) extra=(--data-dir "$data") ;;
		kfake-disk-sync) extra=(--data-dir "$data" --sync-writes) ;;
		esac
		log "+ kfake --listen 127.0.0.1:0 --partitions 8 ${extra[*]}"
		"$WORK/kfake" --listen 127.0.0.1:0 --partitions 8 "${extra[@]}" >"$logf" 2>&1 &
		BROKER_PID=$!
		line="$(wait_for "$logf" '^ready ' "$BROKER_PID")"
		ADDR="${line#ready }"
		;;
	esac
	log "$label ready at $ADDR (pid $BROKER_PID)"
}

# cpu_busy: CPU-seconds all processes have used since boot (user, nice,
# system, irq, softirq in /proc/stat, at USER_HZ=100).
cpu_busy() { awk '/^cpu /{printf "%.2f\n", ($2+$3+$4+$7+$8)/100}' /proc/stat; }
# own_cpu: CPU-seconds used by this script's finished children (the brokers
# and the bench clients), from bash's `times`, which must run in this shell
# (not in a $(...) subshell) to see them: call it as `own_cpu; X=$OWN_CPU`.
own_cpu() {
	times >"$WORK/times"
	OWN_CPU="$(tail -1 "$WORK/times" | awk '{
		t = 0
		for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1]*60 + a[2] }
		printf "%.2f\n", t
	}')"
}

FAILED=0
bench() {
	if ! run "$BENCH" bench "$@" --brokers "$ADDR" --label "$LABEL" --csv "$CSV"; then
		log "FAILED: bench $*"
		FAILED=$((FAILED + 1))
	fi
}

for ROUND in $(seq "$ROUNDS"); do
	for LABEL in "${TARGETS[@]}"; do
		log "round $ROUND/$ROUNDS: load average before $LABEL: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
		own_cpu
		T0=$SECONDS B0=$(cpu_busy) O0=$OWN_CPU
		start_broker "$LABEL"
		bench produce --workload "produce 1KiB acks=all 8p" --topic bench-1k --partitions 8 \
			--record-size 1024 --acks all --batch-bytes 1000000 "${PRODUCE_BOUND[@]}"
		bench consume --workload "consume 1KiB 8p" --topic bench-1k --duration "$CONSUME_CAP"
		bench produce --workload "produce 100B acks=all 8p" --topic bench-100 --partitions 8 \
			--record-size 100 --acks all --batch-bytes 1000000 "${PRODUCE_BOUND[@]}"
		bench consume --workload "consume 100B 8p" --topic bench-100 --duration "$CONSUME_CAP"
		bench e2e --workload "e2e 1KiB ${E2E_RATE}/s acks=all 1p" --topic bench-e2e --partitions 1 \
			--record-size 1024 --acks all --rate "$E2E_RATE" --duration "$E2E_FOR"
		stop_broker
		rm -rf "$WORK/data-$LABEL"
		own_cpu
		B1=$(cpu_busy) O1=$OWN_CPU
		log "$(awk -v l="$LABEL" -v w=$((SECONDS - T0)) -v n="$(nproc)" -v b="$B1" -v b0="$B0" -v o="$O1" -v o0="$O0" \
			'BEGIN { printf "%s: %ds wall on %d CPUs; CPU-s used by this run %.1f, by everything else (other processes, kernel writeback) %.1f\n", l, w, n, o - o0, ((b - b0) - (o - o0) > 0 ? (b - b0) - (o - o0) : 0) }')"
	done
done

run "$BENCH" bench report --csv "$CSV" \
	--pair octopus-never/kfake-mem --pair octopus-never/kfake-disk \
	--pair octopus-always/kfake-disk-sync >"$MD"
echo
cat "$MD"
echo
echo '```csv'
cat "$CSV"
echo '```'
log "results: $CSV $MD"
if [[ $FAILED -gt 0 ]]; then
	log "$FAILED bench runs failed"
	exit 1
fi
