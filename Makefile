# make check runs exactly what CI runs.
.PHONY: check test run bench
check:
	bash .ci/run
test:
	go test -race ./...
run:
	go run ./examples/server
bench:
	go test -run '^$$' -bench . -benchmem ./kv ./embedded
