# Thin wrapper around CMake. `make all` builds ./libmymalloc.so; `make check` checks
# the formatting and runs every test under CTest (release and debug builds);
# `make debug` builds ./libmymalloc-debug.so with its invariants checked;
# `make stress` and `make bench` run the long programs.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=Release -DMM_WERROR=ON
FORMAT_FILES = $(shell find src include tests stress -name '*.cc' -o -name '*.h' -o -name '*.c' | sort)

PREFIX ?= /usr/local
.PHONY: all check debug stress bench deps deps-test clean format format-check configure configure-test install

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

configure-test: deps-test
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

all: configure
	@cmake --build $(BUILD) -j $(JOBS) --target mymalloc
	@cp $(BUILD)/libmymalloc.so ./libmymalloc.so

debug: configure-test
	@cmake --build $(BUILD) -j $(JOBS) --target mymalloc-debug unit_tests_debug
	@cp $(BUILD)/libmymalloc-debug.so ./libmymalloc-debug.so

check: configure-test format-check
	@cmake --build $(BUILD) -j $(JOBS)
	@cp $(BUILD)/libmymalloc.so ./libmymalloc.so
	@cp $(BUILD)/libmymalloc-debug.so ./libmymalloc-debug.so
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# make install PREFIX=/usr/local DESTDIR=: the versioned shared library, the
# static one, the header, pkg-config and CMake package files, the `mymalloc`
# wrapper and the man page (packaging/install.cmake).
install: configure
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target mymalloc mymalloc_static
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD)

stress: all
	@cmake --build $(BUILD) -j $(JOBS)
	@ci/stress.sh $(BUILD)

bench: all
	@cmake --build $(BUILD) -j $(JOBS)
	@ci/bench.sh $(BUILD)

# make all needs only what the library needs; make check also what the tests need.
deps:
	@ci/install-deps.sh build

deps-test:
	@ci/install-deps.sh test

# Fails when any source differs from .clang-format (make format fixes it).
format-check: deps-test
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: ok"

format:
	@clang-format -i $(FORMAT_FILES)

clean:
	rm -rf $(BUILD) libmymalloc.so libmymalloc-debug.so
