#!/usr/bin/env bash
# Interleaved rounds of BenchmarkOps (package kv): in each round, kv and
# nats.go's raw jetstream.KeyValue run back to back for one second each on
# a fresh server, and the round's ratio is kv ops/s over raw ops/s. It
# prints the ratios of 5 rounds and their median per storage and operation
# (put64: 64 writers at once),
# so that a slow spell of a shared machine hits one round, not one side.
#
#   bash bench/ops-ratio.sh            # about 2 minutes
#   ROUNDS=9 bash bench/ops-ratio.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
bin=$(mktemp -d)/kv.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./kv
for mode in memory file; do
	for op in put put64 get create update; do
		ratios=()
		for _ in $(seq "$rounds"); do
			out=$("$bin" -test.run '^$' -test.bench "Ops/$mode/$op/(kv|raw)\$" -test.benchtime 1s)
			kv=$(awk '/\/kv-/ {print $3}' <<<"$out")
			raw=$(awk '/\/raw-/ {print $3}' <<<"$out")
			ratios+=("$(awk -v k="$kv" -v r="$raw" 'BEGIN {printf "%.3f", r / k}')")
		done
		median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
		echo "$mode $op: kv ÷ raw ops/s per round: ${ratios[*]}; median $median"
	done
done
