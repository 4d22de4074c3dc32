# walship — build, tests and the local test environment.
# Every recipe that needs ports/paths sources deploy/local/env.sh, the single
# source of truth for the local servers (PostgreSQL, MariaDB, Kafka).

SHELL       := /bin/bash
.SHELLFLAGS := -euo pipefail -c
GO          ?= go
ENV         := . deploy/local/env.sh
LOCAL       := deploy/local
DEMO_CONFIG ?= deploy/demo/walship.yaml

.DEFAULT_GOAL := help
.PHONY: help env-up env-down env-status env-clean build unit test test-pg18 soak bench bench-source bench-mysql-source bench-sink bench-debezium bench-load bench-bulk bench-oltp bench-failover bench-ha bench-conflicts bench-multileader test-debezium test-backfill-large demo fmt vet clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

# --- local test environment -----------------------------------------------------
env-up: ## install missing packages, start all local servers (idempotent)
	@bash $(LOCAL)/install-deps.sh
	@bash $(LOCAL)/up.sh

env-down: ## stop all local servers, keep their data
	@bash $(LOCAL)/down.sh

env-status: ## print each local server up/down with its address
	@bash $(LOCAL)/status.sh

env-clean: ## stop all local servers and delete their data
	@bash $(LOCAL)/clean.sh

# --- Go ---------------------------------------------------------------------------
build: ## build bin/walship (and the demo's traffic generator)
	$(GO) build -o bin/walship ./cmd/walship
	$(GO) build -o bin/demotraffic ./cmd/demotraffic

unit: ## unit tests only: no servers needed
	env -u WALSHIP_INTEGRATION $(GO) test ./...

# Integration + unit tests against real servers, in two phases. First every
# package, two at a time (they use their own databases, slots and topics),
# except the tests below; then those, one at a time, alone on the servers:
# they restart servers (TestFault{ServerRestarts,MariaDBSource,BrokerRestartDuringLoad}), change
# server-wide settings (TestSemiSync, TestSyncDurability: a synchronous
# standby every PostgreSQL commit would wait for), or hold prepared XA
# transactions that every MariaDB snapshot waits for, or reset the MariaDB
# binlogs (TestGTIDSeqSurvivesBinlogReset, which also needs WALSHIP_SERIAL=1,
# so a package run outside this phase skips it). The servers are stopped
# again even when the tests fail, and the tests' exit status is kept.
# WALSHIP_KEEP_ENV=1 leaves them running afterwards.
# cmd/walship's end-to-end tests are the long pole of the first phase: the
# ones below (E2E_SIDE: each on databases and topics of its own, none on the
# fault proxy or the Kafka TLS/SASL listeners) run in a second test process
# beside it, their output printed after the first's. The PostgreSQL
# snapshot tests (E2E_SNAP) run on a server no other test uses meanwhile: a
# logical slot's creation waits for every transaction running on the
# server, and their long snapshot transactions made other tests' slot
# creation wait past their timeouts. They run on PostgreSQL 18 (pg18)
# after the version matrix there, beside the first phase.
SERIAL_TESTS := ^(TestFaultServerRestarts|TestFaultBrokerRestartDuringLoad|TestFaultMariaDBSource|TestSemiSync|TestSyncDurability|TestXAInBinlog|TestSnapshotWaitsForPreparedXA|TestGTIDSeqSurvivesBinlogReset)$$
E2E_SIDE := ^(TestDDL.*|TestDebezium.*|TestConsistentPrefixCatchUp|TestCommitOrderYields|TestReplay.*|TestTrimmed.*|TestVerify[^M].*|TestTypes.*|TestTypeWidened.*|TestFaultMariaDBFailover|TestFaultMariaDBFailoverUnderLoad|TestFaultMariaDBDiscardedWrite|TestFaultMariaDBSemiSyncReplica|TestClusterTakeover)$$
# A third cmd/walship process beside the other two: the default run is
# bound by cmd/walship's end-to-end tests, which mostly wait on servers.
E2E_SIDE2 := ^(TestVerifyMutations|TestIncrementalSnapshot.*|TestTableAddedIsBackfilled.*|TestFilter.*|TestFollowerIndexes.*|TestKilledDuring.*|TestLargeSnapshotAndTransaction|TestClusterTakeoverFromMariaDB|TestMultiLeader.*|TestConflictPolicies)$$
E2E_SNAP := ^(TestPostgresSnapshotKilledMidway|TestPostgresParallelSnapshotKilledMidway|TestParallelSnapshotPostgres)$$
# The PostgreSQL source's and sink's tests again on PostgreSQL 18 (pg18 of
# deploy/local, a server of its own), and cmd/walship's PostgreSQL snapshot
# tests (E2E_SNAP) there after them, then, on the PostgreSQL 18 pair,
# walship check's failover advice and the failover test that kills the
# pair's primary and rebuilds the pair, beside the first phase. make test-pg18 runs them alone. The failover tests of the
# MariaDB pair (WALSHIP_PAIRS=1: the pairs are servers of their own) run in
# the E2E_SIDE process.
PG18_TEST = WALSHIP_TEST_PG_SOURCE="$$WALSHIP_TEST_PG18" WALSHIP_TEST_PG_FOLLOWER="$$WALSHIP_TEST_PG18" \
	$(GO) test -count=1 -timeout 20m -skip '$(SERIAL_TESTS)' ./sources/postgres/ ./sinks/postgres/ && \
	WALSHIP_TEST_PG_SOURCE="$$WALSHIP_TEST_PG18" $(GO) test -count=1 -timeout 20m -run '$(E2E_SNAP)' ./cmd/walship/ && \
	WALSHIP_TEST_PG_SOURCE="$$WALSHIP_TEST_PG18_PRIMARY" $(GO) test -count=1 -run '^TestPGSourceFailover$$' ./preflight/ && \
	WALSHIP_PAIRS=1 $(GO) test -count=1 -timeout 20m -run '^TestFaultPostgresFailover$$' ./cmd/walship/
test-pg18: env-up ## the PostgreSQL source and sink tests on PostgreSQL 18 (servers stay up)
	$(ENV) && export WALSHIP_INTEGRATION=1 && $(PG18_TEST)

test: ## start servers, run all tests with WALSHIP_INTEGRATION=1, stop servers
	@status=0; side="$$(mktemp)"; side2="$$(mktemp)"; pg18="$$(mktemp)"; \
	{ $(MAKE) --no-print-directory env-up && bash deploy/local/kafka.sh prune && \
	  $(ENV) && export WALSHIP_INTEGRATION=1 && \
	  { WALSHIP_PAIRS=1 $(GO) test -count=1 -timeout 20m -run '$(E2E_SIDE)' ./cmd/walship/ >"$$side" 2>&1 & sidepid=$$!; \
	    $(GO) test -count=1 -timeout 20m -run '$(E2E_SIDE2)' ./cmd/walship/ >"$$side2" 2>&1 & side2pid=$$!; \
	    { $(PG18_TEST); } >"$$pg18" 2>&1 & pg18pid=$$!; \
	    $(GO) test -p 2 -count=1 -timeout 20m -skip '$(SERIAL_TESTS)|$(E2E_SIDE)|$(E2E_SIDE2)|$(E2E_SNAP)' ./...; main=$$?; \
	    wait $$sidepid; sidest=$$?; echo "--- cmd/walship, $(E2E_SIDE) beside it:"; cat "$$side"; rm -f "$$side"; \
	    wait $$side2pid; side2st=$$?; echo "--- cmd/walship, $(E2E_SIDE2) beside it:"; cat "$$side2"; rm -f "$$side2"; \
	    wait $$pg18pid; pg18st=$$?; echo "--- on PostgreSQL 18, beside it:"; cat "$$pg18"; rm -f "$$pg18"; \
	    [[ $$main == 0 && $$sidest == 0 && $$side2st == 0 && $$pg18st == 0 ]]; } && \
	  WALSHIP_SERIAL=1 $(GO) test -p 1 -count=1 -timeout 20m -run '$(SERIAL_TESTS)' ./cmd/walship/ ./sources/...; } || status=$$?; \
	if [[ "$${WALSHIP_KEEP_ENV:-}" != 1 ]]; then $(MAKE) --no-print-directory env-down || true; fi; \
	exit $$status

# The soak: both sources into all follower engines under a random fault
# every few seconds, then every validator (cmd/walship/soak_test.go).
# DURATION is a Go duration; the servers stay up afterwards.
DURATION ?= 30m
# The benchmark table: every figure beside its baseline, measured in the
# same run (ratios; the machine is noisy). Results go to bench/results/*.json
# and the lines are collected in bench.log; see README "Performance".
bench: env-up ## source, sink, latency, large-transaction, initial-load, step-load and hot-row OLTP benchmarks against their baselines
	@start=$$(date -u +%Y-%m-%dT%H:%M:%SZ); set -o pipefail; { $(ENV) && export WALSHIP_INTEGRATION=1 && \
	  $(GO) test -run '^$$' -bench BenchmarkSourceVsRecvlogical -benchtime=1x -timeout 20m ./sources/postgres/ && \
	  $(GO) test -run '^$$' -bench BenchmarkBinlogSourceVsRawSyncer -benchtime=1x -timeout 20m ./sources/mysql/ && \
	  WALSHIP_BENCH_INDEPENDENT=1 WALSHIP_BENCH_KEYS=60000 WALSHIP_BENCH_ENGINES=postgres $(GO) test -run '^$$' -bench BenchmarkSinkParallelApply -benchtime=1x -timeout 20m ./sinks/ && \
	  $(GO) test -run '^$$' -bench 'BenchmarkSinkVsCopy|BenchmarkLatency|BenchmarkLargeTransaction|BenchmarkInitialLoad|BenchmarkInitialLoadMariaDB|BenchmarkIncrementalSnapshot|BenchmarkFilterCost|BenchmarkStepLoad|BenchmarkHotRow' -benchtime=1x -timeout 150m ./cmd/walship/ && \
	  $(BULK_ROWS); } 2>&1 | tee bench.log | \
	  grep -E '^(source rows|binlog source|sink engine|sink vs COPY|latency at|large transaction|initial load|incremental snapshot|filter cost|replay vs COPY|step load|hot-row OLTP|results:|FAIL|ok )' && \
	  echo && $(GO) run ./cmd/benchtable -since $$start | tee bench/results/table.md

# The bulk path's figures (issue 16) again with the compact log
# (kafka.envelope: rows) that only walship's sinks and replay read; make
# bench runs them beside the default (json) ones, make bench-bulk alone.
# The binlog source is measured on 1M rows: at 200k the raw syncer it is
# compared with finishes in 0.3-0.6 s, its rate varied 2x between runs, and
# walship's last checkpoint (0.1 s) was a tenth of its time.
BULK_ROWS = WALSHIP_BENCH_ENVELOPE=rows $(GO) test -run '^$$' -bench BenchmarkSourceVsRecvlogical -benchtime=1x -timeout 20m ./sources/postgres/ && \
	  WALSHIP_BENCH_ENVELOPE=rows WALSHIP_BENCH_ROWS=1000000 $(GO) test -run '^$$' -bench BenchmarkBinlogSourceVsRawSyncer -benchtime=1x -timeout 20m ./sources/mysql/ && \
	  WALSHIP_BENCH_ENVELOPE=rows $(GO) test -run '^$$' -bench '^(BenchmarkSinkVsCopy|BenchmarkInitialLoad|BenchmarkInitialLoadMariaDB|BenchmarkReplayVsCopy)$$' -benchtime=1x -timeout 60m ./cmd/walship/ && \
	  WALSHIP_BENCH_ENVELOPE=rows WALSHIP_BENCH_LOAD_TABLES=8 WALSHIP_BENCH_LOAD_PHASES=0 $(GO) test -run '^$$' -bench '^BenchmarkInitialLoad$$' -benchtime=1x -timeout 60m ./cmd/walship/

bench-bulk: env-up ## the bulk path with the compact log (envelope rows): source ratios, sink vs COPY, initial loads to PostgreSQL and MariaDB
	@start=$$(date -u +%Y-%m-%dT%H:%M:%SZ); set -o pipefail; { $(ENV) && export WALSHIP_INTEGRATION=1 && $(BULK_ROWS); } 2>&1 | tee bench-bulk.log | \
	  grep -E '^(source rows|binlog source|sink vs COPY|initial load|replay vs COPY|results:|FAIL|ok )' && \
	  echo && $(GO) run ./cmd/benchtable -since $$start

soak: env-up ## make soak DURATION=30m: mixed workload, random faults, validators, summary
	$(ENV) && WALSHIP_INTEGRATION=1 WALSHIP_SOAK_DURATION=$(DURATION) $(GO) test -count=1 -run '^TestSoak$$' -timeout 24h -v ./cmd/walship/ 2>&1 | tee soak.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|soak summary|  )|fault |violations'

# PostgreSQL source rate vs pg_recvlogical on the same WAL (servers stay up).
# WALSHIP_BENCH_ROWS=N changes the load (default 200000 rows); the figures go
# to bench/results/source-<date>.json.
bench-source: env-up ## PG source decode+publish rate vs pg_recvlogical
	$(ENV) && WALSHIP_INTEGRATION=1 $(GO) test -run '^$$' -bench BenchmarkSourceVsRecvlogical -benchtime=1x -timeout 20m ./sources/postgres/

# MariaDB binlog source rate vs go-mysql's BinlogSyncer alone on the same
# binlog (servers stay up). WALSHIP_BENCH_ROWS=N changes the load (default
# 200000 rows), WALSHIP_BENCH_CPUPROFILE=file profiles walship's phase; the
# figures go to bench/results/mysql-source-<date>.json.
bench-mysql-source: env-up ## MariaDB source decode+publish rate vs raw BinlogSyncer
	$(ENV) && WALSHIP_INTEGRATION=1 $(GO) test -run '^$$' -bench BenchmarkBinlogSourceVsRawSyncer -benchtime=1x -timeout 20m ./sources/mysql/

# Sink apply rate with workers=1 against parallel workers, per follower engine
# (PostgreSQL, MariaDB; SQLite alone, one writer), on one published log of
# mostly independent transactions (servers stay up). WALSHIP_BENCH_TXNS=N
# (default 20000) and WALSHIP_BENCH_WORKERS=N (default 8) change the load,
# WALSHIP_BENCH_BATCH=100,1 adds a run without batching; the figures go to
# bench/results/sink-<date>.json.
bench-sink: env-up ## sink apply rate: workers=1 vs parallel workers
	$(ENV) && WALSHIP_INTEGRATION=1 $(GO) test -run '^$$' -bench BenchmarkSinkParallelApply -benchtime=1x -timeout 20m ./sinks/

# Debezium's own JDBC sink (Kafka Connect standalone, default converters)
# reads walship's topics of a PostgreSQL and a MariaDB source unchanged, and
# the tables it writes equal the sources (cmd/walship/debezium_compat_test.go).
# make test runs it too; this runs it alone. The jars come from
# deploy/bench/debezium/fetch.sh (cached outside the repository).
test-backfill-large: env-up ## issue 17's incremental snapshot test at 1M rows (both sources, three followers, two SIGKILLs)
	$(ENV) && WALSHIP_INTEGRATION=1 WALSHIP_TEST_BACKFILL_ROWS=1000000 $(GO) test -count=1 -run '^TestIncrementalSnapshot(MariaDB)?$$' -timeout 40m -v ./cmd/walship/ 2>&1 | \
	  grep -E '^(=== RUN|--- |PASS|FAIL|ok)|backfill_e2e|the writer made'

test-debezium: env-up ## Debezium's JDBC sink over walship's topics (both sources): tables equal, no task failure
	$(ENV) && libs="$$(bash deploy/bench/debezium/fetch.sh)" && export WALSHIP_DEBEZIUM_LIBS="$$libs" && \
	  WALSHIP_INTEGRATION=1 $(GO) test -count=1 -run '^TestDebeziumJDBCSinkReadsWalshipTopics$$' -timeout 20m -v ./cmd/walship/

# walship beside Debezium (PostgreSQL connector + JDBC sink in Kafka Connect
# standalone) on the same servers and workload: sustained throughput and
# commit → follower-visible latency, with the ratios. Debezium's published
# jars are resolved by deploy/bench/debezium/fetch.sh into a cache outside the
# repository; nothing of Debezium is committed. WALSHIP_BENCH_DBZ_ROWS (default
# 50000), WALSHIP_BENCH_DBZ_RATE (default 500 txn/s), WALSHIP_BENCH_SECONDS
# (default 10) change the load, WALSHIP_BENCH_DBZ_SOURCE_PROPS and
# WALSHIP_BENCH_DBZ_SINK_PROPS (key=value,...) Debezium's settings; the
# figures go to bench/results/debezium-<date>.json (see
# cmd/walship/bench_debezium_test.go for the settings used).
bench-debezium: env-up ## walship vs Debezium (PG connector + JDBC sink): throughput, latency, ratios
	@start=$$(date -u +%Y-%m-%dT%H:%M:%SZ); set -o pipefail; { $(ENV) && export WALSHIP_INTEGRATION=1 && \
	  libs="$$(bash deploy/bench/debezium/fetch.sh)" && export WALSHIP_DEBEZIUM_LIBS="$$libs" && \
	  $(GO) test -run '^$$' -bench BenchmarkDebeziumSideBySide -benchtime=1x -timeout 30m ./cmd/walship/; } 2>&1 | tee bench-debezium.log | \
	  grep -E '^(debezium side by side|results:|FAIL|ok |--- FAIL|    bench_debezium)' && \
	  echo && $(GO) run ./cmd/benchtable -since $$start

# The load figures of issue #9 alone (servers stay up): the initial load of
# one table against pg_dump | psql (WALSHIP_BENCH_LOAD_ROWS, default
# 5000000), and the highest source rate with flat lag under a step load
# (WALSHIP_BENCH_STEP_RATES, default 500,...,12000 txn/s, each for
# WALSHIP_BENCH_STEP_SECONDS, default 10); the figures go to
# bench/results/initial-load-<date>.json and step-load-<date>.json.
bench-load: env-up ## initial load vs pg_dump | psql; step load: highest rate with flat lag
	@set -o pipefail; { $(ENV) && export WALSHIP_INTEGRATION=1 && \
	  $(GO) test -run '^$$' -bench 'BenchmarkInitialLoad|BenchmarkInitialLoadMariaDB|BenchmarkStepLoad' -benchtime=1x -timeout 120m ./cmd/walship/ && \
	  WALSHIP_BENCH_LOAD_TABLES=8 WALSHIP_BENCH_LOAD_PHASES=0 $(GO) test -run '^$$' -bench '^BenchmarkInitialLoad$$' -benchtime=1x -timeout 60m ./cmd/walship/; } 2>&1 | tee bench-load.log | \
	  grep -E '^(initial load|step load|results:|FAIL|ok )'

# The hot-row OLTP benchmark of issue 15 alone (servers stay up): a
# TPC-B-like workload (5 branches, 50 tellers, WALSHIP_BENCH_ACCOUNTS
# accounts, default 100000, and an insert-only history, foreign keys on)
# from WALSHIP_BENCH_CLIENTS clients (default 8) at the source's full rate
# for WALSHIP_BENCH_DURATION (default 60s) into PostgreSQL, MariaDB and
# SQLite followers together: source txn/s, each follower's max and p99
# lag_seconds and catch-up time, the invariant polled on every follower,
# history counts and walship verify after; then the same log applied by
# each sink alone: apply txn/s and its ratio to the source's, CPU-µs and
# statements per transaction. WALSHIP_BENCH_SOURCE=mariadb writes a MariaDB
# source instead; WALSHIP_BENCH_WORKERS (default 4), WALSHIP_BENCH_POLL_MS
# (default 500) and WALSHIP_BENCH_CPUPROFILE are the other knobs (see
# cmd/walship/bench_oltp_test.go); the figures go to
# bench/results/hotrow-<date>.json.
bench-conflicts: env-up ## multi-leader: apply rate with every change checked against the follower's row (conflicts: keep_remote) vs the plain path
	@start=$$(date -u +%Y-%m-%dT%H:%M:%SZ); set -o pipefail; { $(ENV) && export WALSHIP_INTEGRATION=1 && \
	  $(GO) test -run '^$$' -bench '^BenchmarkConflictCheckCost$$' -benchtime=1x -timeout 30m ./sinks/; } 2>&1 | tee bench-conflicts.log | \
	  grep -E '^(conflict checks|FAIL|ok |--- FAIL)' && echo && $(GO) run ./cmd/benchtable -since $$start

bench-multileader: env-up ## multi-leader pairs (PG<->PG, PG<->MariaDB): time from healing a 30 s cut of the link to both leaders equal
	@start=$$(date -u +%Y-%m-%dT%H:%M:%SZ); set -o pipefail; { $(ENV) && export WALSHIP_INTEGRATION=1 WALSHIP_BENCH_PARTITION=30s && \
	  $(GO) test -count=1 -run '^TestMultiLeaderLoopPrevention' -v -timeout 20m ./cmd/walship/; } 2>&1 | tee bench-multileader.log | \
	  grep -E '(equal .* healed|^--- |^ok |^FAIL)' && echo && $(GO) run ./cmd/benchtable -since $$start

bench-oltp: env-up ## hot-row OLTP (TPC-B-like): lag and catch-up with 3 sinks, then apply-only rate, CPU and statements per txn
	@start=$$(date -u +%Y-%m-%dT%H:%M:%SZ); set -o pipefail; { $(ENV) && export WALSHIP_INTEGRATION=1 && \
	  $(GO) test -run '^$$' -bench '^BenchmarkHotRow$$' -benchtime=1x -timeout 60m ./cmd/walship/; } 2>&1 | tee bench-oltp.log | \
	  grep -E '^(hot-row OLTP|results:|FAIL|ok |--- FAIL|    bench_oltp)' && \
	  echo && $(GO) run ./cmd/benchtable -since $$start

# Time from a PostgreSQL 18 promotion to the new primary's first change on a
# follower, over WALSHIP_BENCH_FAILOVERS failovers (default 5) of the local
# pair (servers stay up; the pair is rebuilt after each).
bench-failover: env-up ## failover time: promotion to the first change from the new leader on a follower (p50, max)
	@set -o pipefail; { $(ENV) && export WALSHIP_INTEGRATION=1 WALSHIP_PAIRS=1 WALSHIP_BENCH_FAILOVER=1 && \
	  $(GO) test -count=1 -run '^TestBenchFailover$$' -v -timeout 30m ./cmd/walship/; } 2>&1 | tee bench-failover.log | \
	  grep -E '^(failover|    failover_e2e|--- |ok |FAIL)'

# Cluster mode: takeover after kill -9 of a member (p50, max over
# WALSHIP_BENCH_HA_FAULTS faults, default 10) and two members against one
# (a source and four sinks, WALSHIP_BENCH_HA_ROWS rows, default 200000).
bench-ha: env-up ## cluster mode: takeover time after kill -9 (p50, max), throughput of 2 members vs 1
	@start=$$(date -u +%Y-%m-%dT%H:%M:%SZ); set -o pipefail; { $(ENV) && export WALSHIP_INTEGRATION=1 WALSHIP_BENCH_HA=1 && \
	  $(GO) test -count=1 -run '^TestBenchHA$$' -v -timeout 60m ./cmd/walship/; } 2>&1 | tee bench-ha.log | \
	  grep -E '^(cluster|    bench_ha|--- |ok |FAIL)' && echo && $(GO) run ./cmd/benchtable -since $$start

demo: env-up build ## start servers, demo schema and traffic; run walship with its dashboard (Ctrl-C stops)
	bash deploy/demo/setup.sh
	DEMO_CONFIG=$(DEMO_CONFIG) bash deploy/demo/run.sh

fmt: ## gofmt all packages
	$(GO) fmt ./...

vet: ## go vet all packages
	$(GO) vet ./...

clean: ## remove build output (not the local servers' data: see env-clean)
	rm -rf bin
	$(GO) clean -testcache
