#!/usr/bin/env bash
# kafka.sh runs Apache Kafka from Maven Central jars, in KRaft mode on
# loopback: the differential oracle for the black-box tests (test/) and the
# baseline for benchmarks. It needs only Java 17+ and Maven, never reads
# standard input, and works with CI=true.
#
#   kafka.sh install                 fetch Kafka and its runtime jars into
#                                    $OCTOPUS_KAFKA_HOME/libs (idempotent)
#   kafka.sh version                 print the pinned Kafka version
#   kafka.sh installed               exit 0 if installed, else 1 with a hint
#   kafka.sh libs                    print the libs dir (for java -cp "DIR/*")
#   kafka.sh start DIR PORT [CPORT]  format DIR/data, start a broker+controller
#                                    on 127.0.0.1:PORT (PLAINTEXT, or
#                                    SASL_PLAINTEXT with KAFKA_SECURITY=sasl;
#                                    controller on CPORT,
#                                    default: a free loopback port), wait until
#                                    it answers ApiVersions, print
#                                    "ready 127.0.0.1:PORT"
#   kafka.sh stop DIR                stop the broker started in DIR and wait
#                                    (SIGTERM, SIGKILL after 30 s; idempotent)
#
# Environment:
#   OCTOPUS_KAFKA_HOME       install dir (default
#                            $HOME/.cache/octopus/kafka-$KAFKA_VERSION)
#   KAFKA_HEAP_OPTS          replaces the heap options below
#   KAFKA_JVM_OPTS           appended to the JVM options below
#   KAFKA_START_TIMEOUT      seconds start waits for readiness (default 60)
#   KAFKA_SERVER_PROPS       with start: extra server properties, KEY=VALUE
#                            separated by spaces or newlines, appended to
#                            server.properties (a later key wins), e.g.
#                            "log.flush.interval.messages=1"
#   OCTOPUS_KAFKA_OWNER_PID  with start: a watchdog stops the broker and
#                            removes DIR once this process has exited (the
#                            Go tests use it so a killed test run leaves no
#                            JVM behind)
#   KAFKA_SECURITY           with start: "plaintext" (default) or "sasl".
#                            sasl makes the client listener SASL_PLAINTEXT
#                            (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN) with the
#                            StandardAuthorizer and no ACLs: User:admin is
#                            the super user, holding SCRAM-SHA-256 and -512
#                            credentials created at format time; PLAIN knows
#                            only admin (a JAAS user list, not the SCRAM
#                            store). The controller listener stays PLAINTEXT
#                            on loopback, so its principal, User:ANONYMOUS,
#                            is a super user too: the broker half of the
#                            node registers with the controller half through
#                            it (CLUSTER_ACTION). Inter-broker traffic uses
#                            the client listener as admin (SCRAM-SHA-512).
#                            The mode is fixed when DIR/data is formatted.
#   KAFKA_ADMIN_PASSWORD     with KAFKA_SECURITY=sasl: admin's password
#                            (default admin-secret; letters, digits, ._-).
#                            A test credential: it is on the format
#                            command's line and in DIR/server.properties
#                            (mode 600)
set -euo pipefail
exec </dev/null

# KAFKA_VERSION is the newest 4.x that Maven resolved when this was written.
readonly KAFKA_VERSION=4.4.0
# SCALA_VERSION is the suffix of the kafka_* core artifact.
readonly SCALA_VERSION=2.13
# LOG4J_VERSION matches the log4j-core that kafka-server 4.4.0 depends on; the
# log4j-slf4j-impl binding routes Kafka's slf4j 1.7 logging into it.
readonly LOG4J_VERSION=2.25.5
# DEPENDENCY_PLUGIN pins the Maven plugin that copies the jars.
readonly DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

KAFKA_HOME=${OCTOPUS_KAFKA_HOME:-$HOME/.cache/octopus/kafka-$KAFKA_VERSION}
LIBS=$KAFKA_HOME/libs
STAMP=$LIBS/.installed

# HEAP_OPTS and JVM_OPTS are the options every Kafka JVM gets:
#   -Xms256m -Xmx512m     a bounded heap (KAFKA_HEAP_OPTS replaces it): the
#                         oracle's loads are small and the 2-core machine also
#                         runs other JVMs and the Go tests
#   -XX:+UseG1GC -XX:MaxGCPauseMillis=20
#                         the collector settings of Kafka's own
#                         kafka-run-class.sh, so benchmarks see a stock setup
#   -XX:+ExitOnOutOfMemoryError
#                         die loudly instead of limping on
#   -Djava.awt.headless=true
#                         as kafka-run-class.sh; no display here
#   -Dlog4j2.configurationFile
#                         the log config written next to server.properties
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
JVM_OPTS="-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true"

die() {
	echo "kafka.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

is_installed() {
	[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KAFKA_VERSION" ]
}

cmd_install() {
	if is_installed; then
		echo "kafka.sh: Apache Kafka $KAFKA_VERSION already installed in $LIBS"
		return 0
	fi
	command -v java >/dev/null || die "java not found (need Java 17+)"
	command -v mvn >/dev/null || die "mvn not found (need Maven 3)"
	local start=$SECONDS tmp
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" RETURN
	cat >"$tmp/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka.sh: Apache Kafka's broker, tools and logging. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.octofabric.octopus</groupId>
  <artifactId>kafka-oracle</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
	echo "kafka.sh: installing Apache Kafka $KAFKA_VERSION into $LIBS"
	mkdir -p "$KAFKA_HOME"
	rm -rf "$LIBS.tmp"
	# Maven 3.8 prints colour resets even in batch mode; strip them.
	(cd "$tmp" && mvn -B -q -Dstyle.color=never "$DEPENDENCY_PLUGIN:copy-dependencies" \
		-DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g') ||
		die "mvn failed to fetch Apache Kafka $KAFKA_VERSION"
	[ -f "$LIBS.tmp/kafka_$SCALA_VERSION-$KAFKA_VERSION.jar" ] ||
		die "mvn did not produce kafka_$SCALA_VERSION-$KAFKA_VERSION.jar"
	echo "$KAFKA_VERSION" >"$LIBS.tmp/.installed"
	rm -rf "$LIBS"
	mv "$LIBS.tmp" "$LIBS"
	echo "kafka.sh: installed Apache Kafka $KAFKA_VERSION ($(find "$LIBS" -name '*.jar' | wc -l) jars) in $((SECONDS - start))s"
}

cmd_installed() {
	if is_installed; then
		return 0
	fi
	echo "kafka.sh: Apache Kafka $KAFKA_VERSION is not installed in $LIBS; run 'make kafka' or 'scripts/kafka.sh install'" >&2
	return 1
}

# port_open reports whether something accepts TCP connections on 127.0.0.1:$1.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port prints a loopback port nobody listens on (racy, but the window
# between choosing and binding is short).
free_port() {
	local p i
	for i in $(seq 1 50); do
		# below the ephemeral range (32768+), which client sockets draw from
		p=$((20000 + RANDOM % 12000))
		if ! port_open "$p"; then
			echo "$p"
			return 0
		fi
	done
	die "no free loopback port found"
}

# api_versions_ok sends ApiVersions v0 (correlation id 1, client id "x") to
# 127.0.0.1:$1 and succeeds if the reply carries correlation id 1 and error 0.
api_versions_ok() {
	local reply
	reply=$(timeout 3 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "\x00\x00\x00\x0b\x00\x12\x00\x00\x00\x00\x00\x01\x00\x01x" >&3
		head -c 10 <&3 | od -An -tx1
	' _ "$1" 2>/dev/null | tr -d ' \n') || return 1
	# size (4 bytes, any), correlation id 1, error code 0
	[ "${reply:8:12}" = "000000010000" ]
}

# cluster_id prints a random Kafka cluster id: 16 random bytes, base64url
# without padding, not starting with '-' (as Kafka's Uuid.randomUuid).
cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		[ "${id:0:1}" != "-" ] && break
	done
	echo "$id"
}

cmd_start() {
	[ $# -ge 2 ] || usage
	local dir=$1 port=$2 cport=${3:-}
	cmd_installed || exit 1
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ -n "$cport" ] || cport=$(free_port)
	if [ -f "$dir/kafka.pid" ] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
		die "a broker is already running from $dir (pid $(cat "$dir/kafka.pid"))"
	fi
	port_open "$port" && die "127.0.0.1:$port is already in use"
	local security=${KAFKA_SECURITY:-plaintext} password=${KAFKA_ADMIN_PASSWORD:-admin-secret}
	case $security in
	plaintext | sasl) ;;
	*) die "KAFKA_SECURITY=$security: want plaintext or sasl" ;;
	esac
	# The password goes into JAAS strings and --add-scram as is: keep it
	# free of quotes, commas, brackets and backslashes.
	[[ $password =~ ^[A-Za-z0-9._-]+$ ]] || die "KAFKA_ADMIN_PASSWORD: use letters, digits, '.', '_' and '-' only"

	if [ "$security" = plaintext ]; then
		cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka.sh: a single-node KRaft broker+controller on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
EOF
	else
		local scram=org.apache.kafka.common.security.scram.ScramLoginModule
		local plain=org.apache.kafka.common.security.plain.PlainLoginModule
		# It holds admin's password: readable by the owner only.
		rm -f "$dir/server.properties"
		(umask 077 && : >"$dir/server.properties")
		cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka.sh (KAFKA_SECURITY=sasl): a single-node KRaft
# broker+controller on loopback; clients authenticate with SASL, ACLs decide.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=SASL_PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=$scram required username="admin" password="$password";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=$scram required;
listener.name.sasl_plaintext.plain.sasl.jaas.config=$plain required username="admin" password="$password" user_admin="$password";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
EOF
	fi
	cat >>"$dir/server.properties" <<EOF
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
EOF
	local prop props=()
	read -r -d '' -a props <<<"${KAFKA_SERVER_PROPS:-}" || true
	for prop in "${props[@]}"; do
		[[ $prop == ?*=* ]] || die "KAFKA_SERVER_PROPS: $prop is not KEY=VALUE"
		echo "$prop" >>"$dir/server.properties"
	done
	cat >"$dir/log4j2.properties" <<EOF
# Written by scripts/kafka.sh: INFO to stdout (redirected to kafka.log).
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF

	local cp="$LIBS/*" heap jvm
	read -r -a heap <<<"$HEAP_OPTS"
	read -r -a jvm <<<"$JVM_OPTS ${KAFKA_JVM_OPTS:-}"
	jvm+=("-Dlog4j2.configurationFile=$dir/log4j2.properties")

	local start=$SECONDS
	if [ ! -f "$dir/data/meta.properties" ]; then
		# Kafka 4.x formats with kafka.tools.StorageTool; with a static
		# controller.quorum.voters no --standalone/--initial-controllers is
		# needed (those are for a dynamic quorum).
		local scram_args=()
		if [ "$security" = sasl ]; then
			scram_args=(--add-scram "SCRAM-SHA-512=[name=admin,password=$password]"
				--add-scram "SCRAM-SHA-256=[name=admin,password=$password]")
		fi
		java "${heap[@]}" "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format \
			-t "$(cluster_id)" -c "$dir/server.properties" "${scram_args[@]}" >"$dir/format.log" 2>&1 ||
			die "formatting $dir/data failed:
$(tail -n 20 "$dir/format.log")"
	fi

	# setsid: the broker outlives this script and is not killed by a
	# terminal's or a test's process-group signals; stop DIR stops it.
	setsid java "${heap[@]}" "${jvm[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" \
		>"$dir/kafka.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$dir/kafka.pid"

	if [ -n "${OCTOPUS_KAFKA_OWNER_PID:-}" ]; then
		start_watchdog "$dir" "$OCTOPUS_KAFKA_OWNER_PID"
	fi

	local timeout=${KAFKA_START_TIMEOUT:-60}
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			die "Kafka exited during start; last lines of $dir/kafka.log:
$(tail -n 30 "$dir/kafka.log")"
		fi
		# Ready = the client listener answers ApiVersions (a SASL
		# listener does so before authentication too) and the server
		# logged that it finished starting (the listener opens a little
		# before the broker is unfenced and takes requests).
		if grep -q 'Kafka Server started' "$dir/kafka.log" && api_versions_ok "$port"; then
			break
		fi
		if [ $((SECONDS - start)) -ge "$timeout" ]; then
			kill -9 "$pid" 2>/dev/null || true
			die "Kafka not ready on 127.0.0.1:$port after ${timeout}s; last lines of $dir/kafka.log:
$(tail -n 30 "$dir/kafka.log")"
		fi
		sleep 0.2
	done
	echo "ready 127.0.0.1:$port"
}

# start_watchdog stops the broker in $1 and removes $1 once process $2 exits.
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
	[ $# -ge 1 ] || usage
	local dir=$1 pid i
	if [ ! -f "$dir/kafka.pid" ]; then
		echo "kafka.sh: no broker running from $dir"
		return 0
	fi
	pid=$(cat "$dir/kafka.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		# A single-node KRaft broker shuts down in a few seconds.
		for i in $(seq 1 300); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "kafka.sh: pid $pid did not stop in 30s; killing" >&2
			kill -KILL "$pid" 2>/dev/null || true
			for i in $(seq 1 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
		fi
	fi
	rm -f "$dir/kafka.pid"
	echo "stopped $pid"
}

[ $# -ge 1 ] || usage
sub=$1
shift
case $sub in
install) cmd_install ;;
installed) cmd_installed ;;
libs) cmd_installed && echo "$LIBS" ;;
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
version) echo "$KAFKA_VERSION" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
