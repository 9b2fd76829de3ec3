# CrawlRun — the commands README.md gives. Every target installs what it needs first.
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: setup build test bench demo format lint clean

setup:
	@scripts/setup.sh

build: setup
	swift build

# Static Swift runtime, non-PIE: the crawler starts faster and keeps ~2 MB less resident.
RELEASE_FLAGS := -c release --static-swift-stdlib -Xlinker -no-pie

release: setup
	swift build $(RELEASE_FLAGS)

# The test command (.ci/run calls exactly this).
test: setup
	swift build
	swift test 2>&1 | tee .build/test.log | grep -vE '^(◇|↳)'; exit $${PIPESTATUS[0]}

# Benchmarks print figures; they are not pass/fail tests.
bench: setup
	swift build $(RELEASE_FLAGS)
	.build/release/bench

demo: setup
	swift build $(RELEASE_FLAGS)
	scripts/demo.sh

format:
	swift format --in-place --recursive --parallel Package.swift Sources Tests

lint:
	swift format lint --recursive --parallel Package.swift Sources Tests

clean:
	rm -rf .build
