# agentfleet — build, test, run. `make run` and `make test` are all a newcomer
# needs on a fresh Debian machine (as root): both install missing packages first.

CC       ?= gcc
BUILD    ?= build
BIN      ?= bin
SAN      ?=
PKGS      = libzmq libczmq libevent libevent_openssl libevent_pthreads libcurl \
            libcjson libcbor libssl libcrypto hiredis libjwt
# Lazy (=) so a sub-make after `deps` sees freshly installed packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2
# Quiet by default (errors stand out); `make V=1` shows every command.
Q         = $(if $(V),,@)
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) -Icommon $(PKG_CFLAGS) -MMD -MP
LDLIBS   += $(PKG_LIBS) -lm

ifeq ($(SAN),1)
  CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(SAN),fuzz)
  CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -DAF_FUZZING
  LDFLAGS += -fsanitize=address,undefined
endif

NPROC   := $(shell nproc 2>/dev/null || echo 2)
DAEMONS  = gateway manager autoscaler agentd
COMMON_SRC = $(wildcard common/*.c)
COMMON_LIB = $(BUILD)/libafcommon.a

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

# lib<dir>.a holds a program's modules (all but main.c) so tests can link them.
libsrc = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
libof  = $(if $(call libsrc,$(1)),$(BUILD)/lib$(subst /,_,$(1)).a)

PROGDIRS = $(DAEMONS) cli tests/fakes/anthropic tests/fakes/hypercore
progname = $(if $(filter cli,$(1)),fleetctl,$(if $(filter tests/fakes/%,$(1)),fake-$(notdir $(1)),$(1)))
PROGS    = $(foreach d,$(PROGDIRS),$(if $(wildcard $(d)/main.c),$(BIN)/$(call progname,$(d))))
ALL_LIBS = $(foreach d,$(PROGDIRS),$(call libof,$(d)))

UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BINS  = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
UNIT_HELP  = $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
INTEG_SRC  = $(wildcard tests/integration/*.c)
INTEG_BINS = $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(INTEG_SRC))
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC  = $(wildcard bench/*.c)
BENCH_BINS = $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps build test check unit integration run asan lint fuzz fuzz-build bench chaos clean format
.DEFAULT_GOAL := all

all: $(PROGS) $(UNIT_BINS) $(INTEG_BINS) $(BENCH_BINS)

deps:
	@bash scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(COMMON_LIB): $(call obj,$(COMMON_SRC))
	@mkdir -p $(@D)
	$(Q)$(AR) rcs $@ $^

define LIB_RULE
$(call libof,$(1)): $(call obj,$(call libsrc,$(1)))
	@mkdir -p $$(@D)
	$(Q)$$(AR) rcs $$@ $$^
endef
$(foreach d,$(PROGDIRS),$(if $(call libsrc,$(d)),$(eval $(call LIB_RULE,$(d)))))

define PROG_RULE
$(BIN)/$(call progname,$(1)): $(call obj,$(1)/main.c) $(call libof,$(1)) $(COMMON_LIB)
	@mkdir -p $$(@D)
	@$$(if $$(V),,echo "  LD      $$@")
	$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach d,$(PROGDIRS),$(if $(wildcard $(d)/main.c),$(eval $(call PROG_RULE,$(d)))))

# A test, fuzz target or bench named <kind>_<dir>_<what> links lib<dir>.a (one
# of the daemons or cli) besides common, so a broken daemon does not stop the
# other daemons' tests from building.
# <kind>_fake_<name>_<what> links the fake's own lib (tests/fakes/<name>).
ownerdir = $(if $(filter fake,$(word 2,$(subst _, ,$(notdir $(1))))),tests/fakes/$(word 3,$(subst _, ,$(notdir $(1)))),$(firstword $(filter $(DAEMONS) cli,$(word 2,$(subst _, ,$(notdir $(1)))))))
ownerlib = $(if $(call ownerdir,$(1)),$(call libof,$(call ownerdir,$(1))))

define UNIT_RULE
$(BUILD)/tests/$(1): $(BUILD)/tests/unit/$(1).o $(call obj,$(UNIT_HELP)) $(call ownerlib,$(1)) $(COMMON_LIB)
	@mkdir -p $$(@D)
	@$$(if $$(V),,echo "  LD      $$@")
	$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) -lcmocka
endef
$(foreach t,$(UNIT_SRC),$(eval $(call UNIT_RULE,$(basename $(notdir $(t))))))

define INTEG_RULE
$(BUILD)/tests/integration/$(1): $(BUILD)/tests/integration/$(1).o $(call ownerlib,$(1)) $(COMMON_LIB)
	@mkdir -p $$(@D)
	@$$(if $$(V),,echo "  LD      $$@")
	$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(INTEG_SRC),$(eval $(call INTEG_RULE,$(basename $(notdir $(t))))))

define BENCH_RULE
$(BUILD)/bench/$(1): $(BUILD)/bench/$(1).o $(call ownerlib,$(1)) $(COMMON_LIB)
	@mkdir -p $$(@D)
	@$$(if $$(V),,echo "  LD      $$@")
	$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(BENCH_SRC),$(eval $(call BENCH_RULE,$(basename $(notdir $(t))))))

# ---- running ----------------------------------------------------------------

build: deps
	@$(MAKE) -j$(NPROC) --no-print-directory all

test: deps
	@$(MAKE) -j$(NPROC) --no-print-directory all
	@$(MAKE) -j$(NPROC) --no-print-directory fuzz-build CC=clang BUILD=build/fuzz BIN=build/fuzz/bin SAN=fuzz
	@AF_BIN=$(BIN) AF_BUILD=$(BUILD) AF_FUZZ_SECONDS=$${AF_FUZZ_SECONDS:-5} bash scripts/run-tests.sh

# `check` runs the suite against an existing build (used by asan).
check:
	@AF_BIN=$(BIN) AF_BUILD=$(BUILD) bash scripts/run-tests.sh

unit: all
	@AF_BIN=$(BIN) AF_BUILD=$(BUILD) AF_ONLY=unit bash scripts/run-tests.sh

integration: all
	@AF_BIN=$(BIN) AF_BUILD=$(BUILD) AF_ONLY=integration bash scripts/run-tests.sh

run: deps
	@$(MAKE) -j$(NPROC) --no-print-directory all
	@bash scripts/run-local.sh

asan: deps
	@$(MAKE) -j$(NPROC) --no-print-directory all BUILD=build/asan BIN=build/asan/bin SAN=1 OPT=-O1
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  AF_SKIP_FUZZ=1 $(MAKE) -j$(NPROC) --no-print-directory check BUILD=build/asan BIN=build/asan/bin

# ---- fuzzing ----------------------------------------------------------------

FUZZ_BINS = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz-bin/%,$(FUZZ_SRC))
fuzz-build: $(FUZZ_BINS)

define FUZZ_RULE
$(BUILD)/fuzz-bin/$(1): $(BUILD)/tests/fuzz/$(1).o $(call ownerlib,$(1)) $(COMMON_LIB)
	@mkdir -p $$(@D)
	@$$(if $$(V),,echo "  LD      $$@")
	$(Q)$$(CC) -fsanitize=fuzzer,address,undefined -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(FUZZ_SRC),$(eval $(call FUZZ_RULE,$(basename $(notdir $(t))))))

fuzz: deps
	@$(MAKE) -j$(NPROC) --no-print-directory fuzz-build CC=clang BUILD=build/fuzz BIN=build/fuzz/bin SAN=fuzz
	@AF_BUILD=build/fuzz AF_FUZZ_SECONDS=$${AF_FUZZ_SECONDS:-60} bash scripts/run-fuzz.sh

# ---- quality ----------------------------------------------------------------

bench: deps
	@$(MAKE) -j$(NPROC) --no-print-directory all
	@AF_BIN=$(BIN) AF_BUILD=$(BUILD) bash scripts/run-bench.sh

# Chaos: steady chat load while each daemon is killed in turn (tests/chaos).
chaos: deps
	@$(MAKE) -j$(NPROC) --no-print-directory all
	@AF_BIN=$(BIN) AF_BUILD=$(BUILD) bash tests/chaos/run.sh

lint: deps
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -Icommon --include=scripts/cppcheck/cjson.h $(COMMON_SRC) $(foreach d,$(PROGDIRS),$(wildcard $(d)/*.c))
	clang-tidy --quiet $(COMMON_SRC) $(foreach d,$(PROGDIRS),$(wildcard $(d)/*.c)) -- \
	  -std=c11 -D_GNU_SOURCE -Icommon $(PKG_CFLAGS)

format:
	clang-format -i $(wildcard common/*.[ch] */*.[ch] tests/*/*.[ch] tests/fakes/*/*.[ch])

clean:
	rm -rf build bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
