#!/usr/bin/env bash
# compare.sh: run the same bounded workloads, with the same client
# (`octopus bench`, franz-go) and, for 1 KiB records, with Apache Kafka's
# own ProducerPerformance/ConsumerPerformance, against Octopus, franz-go's
# kfake and Apache Kafka on this machine, one broker at a time; print
# Markdown tables with Octopus/Kafka and Octopus/kfake ratios plus the CSV
# they were made from, and draw PNG bar charts. docs/PERFORMANCE.md
# ("The harness") says what each row measures.
#
#   bench/compare.sh [--smoke] [--matrix default|full] [--duration 5s]
#                    [--e2e-duration 5s] [--warmup 3s] [--rounds 1]
#                    [--tool-records 500000]
#                    [--only LABEL,...] [--no-octopus] [--no-kafka]
#                    [--out DIR] [--img DIR]
#
# Brokers, in order (each starts fresh on loopback, is measured, and is
# stopped before the next starts):
#   octopus-never    octopus serve --fsync never
#   octopus-always   octopus serve --fsync always
#   kfake-mem        kfake in memory
#   kfake-disk       kfake --data-dir (page cache, no fsync per write)
#   kfake-disk-sync  kfake --data-dir --sync-writes (fsync per write)
#   kafka            Apache Kafka 4.4 via scripts/kafka.sh (no fsync per write)
#   kafka-fsync      the same with log.flush.interval.messages=1 (fsync per append)
# Rows on each: start-to-ready; resident memory at idle; produce (default
# matrix: 1 KiB, 100 B and 10 KiB with acks=all, 8 partitions, 1 producer,
# and 1 KiB with 4 producers; --matrix full: 1 KiB, 100 B, 10 KiB x acks
# all/1 x 8/1 partitions x 1/4 producers), each followed for acks=all, 8
# partitions, 1 producer, 1 KiB and 100 B (full: and 10 KiB) by a consume
# of what it wrote, from the page cache; after the first (1 KiB), brokers
# that keep data restart (start-to-ready again) and consume it once more;
# end-to-end latency at 10,000 and 100,000 records/s; consumer-group
# rebalance with 4 members; Kafka's tools (Octopus and Kafka only);
# resident memory after the load.
#
# --smoke makes every run tiny and measures one broker of each kind
# (octopus-never, kfake-mem, kfake-disk, kafka; about 30 s); without Apache
# Kafka installed (scripts/kafka.sh install) the Kafka rows are skipped with
# a message, and the run fails if CI is set. --duration sets the length of
# each produce run and the cap of each consume run; --e2e-duration the
# length of each latency run; --warmup the unrecorded produce and consume
# that precede the rows on each broker (0s: none; the smoke has none);
# --rounds N repeats the whole sequence N times (brokers interleaved) and
# the tables show each figure's median run; --tool-records is how many
# records Kafka's ProducerPerformance sends; --only runs just the listed
# brokers; --out keeps results.csv, results.md, img/ and the brokers' logs
# in DIR (default: a temporary directory, printed at the end); --img writes
# the PNG charts there instead of DIR/img (docs/img for the committed ones).
# OCTOPUS_BENCH_BIN, if set, is the binary whose `bench` command drives the
# load (default: the octopus built here). KAFKA_HEAP_OPTS, if set, replaces
# the Kafka broker's heap options (default here: -Xms1g -Xmx1g).
set -euo pipefail

SMOKE=0
MATRIX=default
DURATION=5s
E2E_FOR=5s
ROUNDS=1
TOOL_RECORDS=500000
WARMUP=3s
ONLY=""
NO_OCTOPUS=0
NO_KAFKA=0
OUT=""
IMG=""
while [[ $# -gt 0 ]]; do
	case "$1" in
	--smoke) SMOKE=1 ;;
	--matrix) MATRIX="$2"; shift ;;
	--duration) DURATION="$2"; shift ;;
	--e2e-duration) E2E_FOR="$2"; shift ;;
	--rounds) ROUNDS="$2"; shift ;;
	--tool-records) TOOL_RECORDS="$2"; shift ;;
	--warmup) WARMUP="$2"; shift ;;
	--only) ONLY="$2"; shift ;;
	--no-octopus) NO_OCTOPUS=1 ;;
	--no-kafka) NO_KAFKA=1 ;;
	--out) OUT="$2"; shift ;;
	--img) IMG="$2"; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
case "$MATRIX" in default | full) ;; *) echo "compare.sh: --matrix default or full" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_SH="$ROOT/scripts/kafka.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/octopus-compare.XXXXXX")"
OUT="${OUT:-$WORK}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
IMG="${IMG:-$OUT/img}"
CSV="$OUT/results.csv"
MD="$OUT/results.md"
rm -f "$CSV" "$MD"

BROKER_PID=""
BROKER_DIR="" # data directory of a running Kafka (stopped through kafka.sh)
CHILD=""      # the command run() is waiting for
READY_PID=""  # a `bench ready` poller
stop_broker() {
	if [[ -n "$BROKER_DIR" ]]; then
		bash "$KAFKA_SH" stop "$BROKER_DIR" >&2 || true
		BROKER_DIR="" BROKER_PID=""
	fi
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
	for p in "$CHILD" "$READY_PID"; do
		if [[ -n "$p" ]]; then
			kill -TERM "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
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

# The workloads. A produce spec is "SIZE ACKS PARTITIONS PRODUCERS".
if [[ $SMOKE == 1 ]]; then
	PRODUCE_BOUND=(--records 2000 --duration 2s)
	CONSUME_CAP=5s
	E2E_RATES=(1000)
	E2E_FOR=1s
	TOOL_RECORDS=20000
	WARMUP=0s
	REBALANCE_ITERATIONS=1
	IDLE=0.2
	SPECS=("1024 all 8 1" "100 all 8 1" "1024 all 8 4")
	CONSUME_SIZES=" 1024 100 "
else
	PRODUCE_BOUND=(--duration "$DURATION")
	CONSUME_CAP="$DURATION"
	E2E_RATES=(10000 100000)
	REBALANCE_ITERATIONS=3
	IDLE=1
	if [[ $MATRIX == full ]]; then
		SPECS=()
		for size in 1024 100 10240; do
			for acks in all 1; do
				for parts in 8 1; do
					for prods in 1 4; do
						SPECS+=("$size $acks $parts $prods")
					done
				done
			done
		done
		CONSUME_SIZES=" 1024 100 10240 "
	else
		SPECS=("1024 all 8 1" "100 all 8 1" "10240 all 8 1" "1024 all 8 4")
		CONSUME_SIZES=" 1024 100 "
	fi
fi
# RESTART_TOPIC is the first spec's topic, read again after a restart.
RESTART_TOPIC=bench-1024-all-8p-x1

size_name() {
	case "$1" in
	1024) echo 1KiB ;;
	10240) echo 10KiB ;;
	*) echo "${1}B" ;;
	esac
}

cd "$ROOT"
BENCH="${OCTOPUS_BENCH_BIN:-$WORK/octopus}"
KAFKA_OK=0
ALL=()
if [[ $NO_OCTOPUS == 0 ]]; then
	ALL+=(octopus-never octopus-always)
fi
ALL+=(kfake-mem kfake-disk kfake-disk-sync)
KAFKA_MISSING=""
if [[ $NO_KAFKA == 0 ]]; then
	if bash "$KAFKA_SH" installed 2>/dev/null; then
		KAFKA_OK=1
		KAFKA_LIBS="$(bash "$KAFKA_SH" libs)"
		ALL+=(kafka kafka-fsync)
	else
		KAFKA_MISSING="Apache Kafka $(bash "$KAFKA_SH" version) is not installed (run scripts/kafka.sh install); its rows are skipped"
		log "$KAFKA_MISSING"
		if [[ -n "${CI:-}" ]]; then
			log "CI is set: failing"
			exit 1
		fi
	fi
fi
TARGETS=()
for l in "${ALL[@]}"; do
	if [[ -n "$ONLY" ]]; then
		if [[ ",$ONLY," == *",$l,"* ]]; then
			TARGETS+=("$l")
		fi
	elif [[ $SMOKE == 1 ]]; then
		# One broker per code path is proof enough that the script works.
		if [[ $l != octopus-always && $l != kfake-disk-sync && $l != kafka-fsync ]]; then
			TARGETS+=("$l")
		fi
	else
		TARGETS+=("$l")
	fi
done
if [[ ${#TARGETS[@]} == 0 ]]; then
	log "no brokers to measure"
	exit 2
fi
if [[ -z "${OCTOPUS_BENCH_BIN:-}" || " ${TARGETS[*]} " == *" octopus-"* ]]; then
	run go build -o "$WORK/octopus" ./cmd/octopus
fi
if [[ " ${TARGETS[*]} " == *" kfake-"* ]]; then
	run go build -o "$WORK/kfake" ./bench/kfake
fi

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
			log "process $pid exited before printing /$pat/:"
			cat "$file" >&2
			return 1
		fi
		sleep 0.05
	done
	log "no /$pat/ from process $pid after 30 s:"
	cat "$file" >&2
	return 1
}

# free_port prints a loopback port no TCP socket uses, below the kernel's
# ephemeral range: a port in that range may be the local end of a client
# connection in TIME_WAIT, and Kafka (no SO_REUSEADDR) cannot bind it then.
# Racy, but the window between choosing and binding is short.
free_port() {
	local p lo
	lo="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
	[[ $lo -gt 12000 ]] || lo=32768
	for _ in $(seq 100); do
		p=$((10000 + RANDOM % (lo - 10000)))
		if command -v ss >/dev/null; then
			[[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]] && echo "$p" && return 0
		elif ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	log "no free loopback port"
	return 1
}

FAILED=0
fail() {
	log "FAILED: $*"
	FAILED=$((FAILED + 1))
}

# start_broker LABEL WORKLOAD: starts the broker on fresh loopback ports (a
# restart reuses its data directory), measuring start-to-ready as a row
# named WORKLOAD; sets BROKER_PID (and BROKER_DIR for Kafka) and ADDR.
start_broker() {
	local label="$1" wl="$2" logf="$WORK/$1.log" data="$WORK/data-$1" pidf="$WORK/$1.pid"
	PORT="$(free_port)"
	CPORT="$(free_port)"
	while [[ $CPORT == "$PORT" ]]; do
		CPORT="$(free_port)"
	done
	ADDR="127.0.0.1:$PORT"
	rm -f "$pidf"
	if [[ $label == kafka* ]]; then
		pidf="$data/kafka.pid"
	fi
	# The poller starts first and says so, so that no early answer is missed.
	"$BENCH" bench ready --brokers "$ADDR" --pid-file "$pidf" --timeout 90s \
		--label "$label" --workload "$wl" --csv "$CSV" >"$WORK/$label.ready" 2>&1 &
	READY_PID=$!
	wait_for "$WORK/$label.ready" '^polling' "$READY_PID" >/dev/null || return 1
	case "$label" in
	octopus-*)
		log "+ octopus serve --data-dir $data --kafka-listen $ADDR --http-listen 127.0.0.1:0 --fsync ${label#octopus-} --default-partitions 8 --group-initial-rebalance-delay 0"
		"$WORK/octopus" serve --data-dir "$data" --kafka-listen "$ADDR" --http-listen 127.0.0.1:0 \
			--fsync "${label#octopus-}" --default-partitions 8 --group-initial-rebalance-delay 0 >>"$logf" 2>&1 &
		BROKER_PID=$!
		echo "$BROKER_PID" >"$pidf"
		;;
	kfake-*)
		local extra=()
		case "$label" in
		kfake-disk) extra=(--data-dir "$data") ;;
		kfake-disk-sync) extra=(--data-dir "$data" --sync-writes) ;;
		esac
		log "+ kfake --listen $ADDR --partitions 8 ${extra[*]}"
		"$WORK/kfake" --listen "$ADDR" --partitions 8 "${extra[@]}" >>"$logf" 2>&1 &
		BROKER_PID=$!
		echo "$BROKER_PID" >"$pidf"
		;;
	kafka*)
		local props="num.partitions=8"
		if [[ $label == kafka-fsync ]]; then
			props+=" log.flush.interval.messages=1"
		fi
		log "+ KAFKA_HEAP_OPTS='$KAFKA_HEAP' KAFKA_SERVER_PROPS='$props' scripts/kafka.sh start $data $PORT $CPORT"
		BROKER_DIR="$data"
		if ! KAFKA_HEAP_OPTS="$KAFKA_HEAP" KAFKA_SERVER_PROPS="$props" OCTOPUS_KAFKA_OWNER_PID=$$ \
			bash "$KAFKA_SH" start "$data" "$PORT" "$CPORT" >>"$logf" 2>&1; then
			cat "$logf" >&2
			cp "$data/kafka.log" "$WORK/$label-server.log" 2>/dev/null || true
			kill -TERM "$READY_PID" 2>/dev/null || true
			wait "$READY_PID" 2>/dev/null || true
			READY_PID=""
			return 1
		fi
		BROKER_PID="$(cat "$pidf")"
		;;
	esac
	# Wait for the poller; a broker of ours that dies meanwhile ends it.
	local rc=0
	while kill -0 "$READY_PID" 2>/dev/null; do
		if [[ -z "$BROKER_DIR" ]] && ! kill -0 "$BROKER_PID" 2>/dev/null; then
			log "$label exited during start:"
			cat "$logf" >&2
			kill -TERM "$READY_PID" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	wait "$READY_PID" || rc=$?
	READY_PID=""
	cat "$WORK/$label.ready" >&2
	[[ $rc == 0 ]] || return 1
	log "$label ready at $ADDR (pid $BROKER_PID)"
}
KAFKA_HEAP="${KAFKA_HEAP_OPTS:--Xms1g -Xmx1g}"

bench() {
	if ! run "$BENCH" bench "$@" --brokers "$ADDR" --label "$LABEL" --csv "$CSV"; then
		fail "bench $*"
	fi
}
drop() {
	run "$BENCH" bench delete-topics --brokers "$ADDR" --topic "$1" || fail "delete topic $1"
}

# cpu_busy: CPU-seconds all processes have used since boot (user, nice,
# system, irq, softirq in /proc/stat, at USER_HZ=100).
cpu_busy() { awk '/^cpu /{printf "%.2f\n", ($2+$3+$4+$7+$8)/100}' /proc/stat; }
# own_cpu: CPU-seconds used by this script's finished children (the brokers
# and the bench clients), from bash's `times`, which must run in this shell
# (not in a $(...) subshell) to see them: call it as `own_cpu; X=$OWN_CPU`.
# A Kafka broker is not a child (kafka.sh starts it with setsid): its CPU is
# read from /proc/PID/stat just before it stops (stop_counted).
own_cpu() {
	times >"$WORK/times"
	OWN_CPU="$(tail -1 "$WORK/times" | awk '{
		t = 0
		for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1]*60 + a[2] }
		printf "%.2f\n", t
	}')"
}
# proc_cpu PID: CPU-seconds (user+system) process PID has used so far.
proc_cpu() { awk '{ i = index($0, ") "); split(substr($0, i + 2), f, " "); printf "%.2f\n", (f[12] + f[13]) / 100 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
EXTRA_CPU=0
stop_counted() {
	if [[ -n "$BROKER_DIR" && -n "$BROKER_PID" ]]; then
		EXTRA_CPU="$(awk -v a="$EXTRA_CPU" -v b="$(proc_cpu "$BROKER_PID")" 'BEGIN { printf "%.2f\n", a + b }')"
	fi
	stop_broker
}

# measure LABEL: one broker's block of rows.
measure() {
	local label="$1" spec size acks parts prods topic wl rate
	if ! start_broker "$label" "start to ready"; then
		fail "$label did not start"
		stop_counted
		return
	fi
	sleep "$IDLE"
	bench memory --pid "$BROKER_PID" --phase "idle after start"
	# Warm-up, not recorded: a JVM broker compiles its hot paths in the
	# first seconds of load, and no row should measure that (except the
	# consume after a restart, which is about a fresh process).
	if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
		run "$BENCH" bench produce --brokers "$ADDR" --topic bench-warmup --partitions 8 --record-size 1024 \
			--duration "$WARMUP" >&2 || fail "warm-up produce"
		run "$BENCH" bench consume --brokers "$ADDR" --topic bench-warmup --duration "$WARMUP" >&2 || fail "warm-up consume"
		drop bench-warmup
	fi

	for spec in "${SPECS[@]}"; do
		read -r size acks parts prods <<<"$spec"
		topic="bench-$size-$acks-${parts}p-x$prods"
		wl="$(size_name "$size") acks=$acks ${parts}p x$prods"
		bench produce --workload "produce $wl" --topic "$topic" --partitions "$parts" \
			--record-size "$size" --acks "$acks" --producers "$prods" --batch-bytes 1000000 "${PRODUCE_BOUND[@]}"
		if [[ $acks == all && $parts == 8 && $prods == 1 && $CONSUME_SIZES == *" $size "* ]]; then
			bench consume --workload "consume $(size_name "$size") ${parts}p" --topic "$topic" --duration "$CONSUME_CAP"
		fi
		# The restart row: the broker restarts between the first produce
		# and a second consume of its topic. It comes first so that no
		# broker ever holds more than one big topic (kfake keeps them all
		# in memory). kfake-mem keeps nothing over a restart; the smoke
		# skips Kafka's (5 s of JVM start that prove nothing new).
		if [[ $topic == "$RESTART_TOPIC" && $label != kfake-mem && ($SMOKE == 0 || $label != kafka*) ]]; then
			stop_counted
			if ! start_broker "$label" "start to ready after restart"; then
				fail "$label did not restart"
				stop_counted
				return
			fi
			bench consume --workload "consume 1KiB 8p after restart" --topic "$topic" --duration "$CONSUME_CAP"
		fi
		drop "$topic"
	done

	for rate in "${E2E_RATES[@]}"; do
		bench e2e --workload "e2e 1KiB ${rate}/s acks=all 1p" --topic "bench-e2e-$rate" --partitions 1 \
			--record-size 1024 --acks all --rate "$rate" --duration "$E2E_FOR"
		drop "bench-e2e-$rate"
	done

	bench rebalance --topic bench-rebalance --partitions 8 --members 4 \
		--iterations "$REBALANCE_ITERATIONS" --timeout 30s

	# Kafka's tools: against Octopus and Kafka (the smoke: Octopus only).
	if [[ $KAFKA_OK == 1 && ($label == octopus-* || $label == kafka*) ]] &&
		[[ $SMOKE == 0 || $label == octopus-* ]]; then
		bench kafka-perf produce --kafka-libs "$KAFKA_LIBS" --workload "produce 1KiB acks=all 8p x1" \
			--topic bench-tools-1k --partitions 8 --record-size 1024 --acks all --records "$TOOL_RECORDS" --timeout 3m
		bench kafka-perf consume --kafka-libs "$KAFKA_LIBS" --workload "consume 1KiB 8p" \
			--topic bench-tools-1k --timeout 3m
		drop bench-tools-1k
	fi

	bench memory --pid "$BROKER_PID" --phase "after load"
	if [[ $label == kafka* ]]; then
		cp "$WORK/data-$label/kafka.log" "$WORK/$label-server.log" 2>/dev/null || true
	fi
	stop_counted
}

log "brokers: ${TARGETS[*]}; matrix $MATRIX; $([[ $SMOKE == 1 ]] && echo smoke || echo "duration $DURATION, e2e $E2E_FOR")"
for ROUND in $(seq "$ROUNDS"); do
	for LABEL in "${TARGETS[@]}"; do
		log "round $ROUND/$ROUNDS: load average before $LABEL: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
		own_cpu
		T0=$SECONDS B0=$(cpu_busy) O0=$OWN_CPU EXTRA_CPU=0
		measure "$LABEL"
		rm -rf "$WORK/data-$LABEL"
		own_cpu
		B1=$(cpu_busy) O1=$(awk -v a="$OWN_CPU" -v b="$EXTRA_CPU" 'BEGIN { printf "%.2f\n", a + b }')
		log "$(awk -v l="$LABEL" -v w=$((SECONDS - T0)) -v n="$(nproc)" -v b="$B1" -v b0="$B0" -v o="$O1" -v o0="$O0" \
			'BEGIN { printf "%s: %ds wall on %d CPUs; CPU-s used by this run %.1f, by everything else (other processes, kernel writeback) %.1f\n", l, w, n, o - o0, ((b - b0) - (o - o0) > 0 ? (b - b0) - (o - o0) : 0) }')"
	done
done

if [[ ! -s "$CSV" ]]; then
	log "no results"
	exit 1
fi
run "$BENCH" bench report --csv "$CSV" \
	--vs octopus-never/kafka/kfake-disk --vs octopus-always/kafka-fsync/kfake-disk-sync \
	--pair octopus-never/kfake-mem >"$MD"
run "$BENCH" bench plot --csv "$CSV" --out "$IMG" >&2 || fail "plot"
echo
cat "$MD"
echo
echo '```csv'
cat "$CSV"
echo '```'
log "results: $CSV $MD $IMG"
if [[ -n "$KAFKA_MISSING" ]]; then
	log "$KAFKA_MISSING"
fi
if [[ $FAILED -gt 0 ]]; then
	log "$FAILED bench runs failed"
	exit 1
fi
