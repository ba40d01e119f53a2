# Keel: a bare-metal type-1 hypervisor for Intel VT-x.
#
#   make            build/keel.elf and build/keel.iso
#   make run        boot Keel with its default guests, console on the terminal
#   make run-console the same with two guests that echo what is typed to them
#   make check      the inner-loop tier (under 5 minutes): host unit tests
#                   with the oracles on a reduced sample, and one short
#                   scenario per area (manifest lines `tier = check`)
#   make test       everything CI runs, in stages, with each stage's time
#                   and the five slowest scenarios at the end
#   make test-unit  stage: host unit tests, oracles, fuzz smoke (= make unit)
#   make test-scenarios      stage: every boot scenario but Linux
#                            (tools/scenarios; ONLY=name for one)
#   make test-linux-scenarios stage: the Linux scenario next to memtest
#   make scenarios  both scenario stages in one pool, Linux first
#   make bench      the bench guests and kvm-unit-tests' vmexit in Bochs,
#                   ticks per operation
#   make bench-linux Linux to power-off on bare Bochs and as a Keel guest,
#                   and Keel's share of its time (tools/bench-linux)
#   make test-nested Keel's scenarios under Linux KVM's nested VMX, in
#                   Bochs (tests/nested/, tools/nested; not in make test)
#   make test-linux Debian's bzImage as a 2-vCPU guest in Bochs, through the
#                   whole boot protocol (tests/linux/)
#   make test-conformance  kvm-unit-tests' x86 images as Keel guests, each
#                   judged against tests/conformance/kut.manifest
#                   (tools/conformance; ONLY=name, MODE=ept|shadow|sandy|penryn)
#   make test-conformance-slow  the same for the long tests (slow tier)
#
# Every target that needs packages installs them through tools/deps.sh.

BUILD   := build
KCC     := gcc
KLD     := ld
HOSTCC  := gcc

KCFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie -mcmodel=kernel \
	   -mno-red-zone -mgeneral-regs-only -mno-sse -mno-mmx -mno-avx \
	   -fno-stack-protector -fno-omit-frame-pointer -fno-strict-aliasing \
	   -fno-asynchronous-unwind-tables -fcf-protection=none \
	   -Wall -Wextra -Werror -Wshadow -Wno-address-of-packed-member \
	   -I. -MMD -MP
KASFLAGS := -D__ASSEMBLER__ -I. -MMD -MP
KLDFLAGS := -nostdlib -static -no-pie -z max-page-size=4096 -z noexecstack \
	    --no-warn-rwx-segments \
	    -T linker.ld

HOST_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wshadow -DKEEL_HOST -I. \
	       -fsanitize=address,undefined -fno-sanitize-recover=all

KERNEL_SRCS := \
	boot/entry.S boot/trampoline.S boot/main.c boot/checks.c boot/mb2info.c \
	arch/isr.S arch/idt.c arch/gdt.c arch/percpu.c arch/exceptions.c \
	arch/smp.c arch/string.c arch/tsc.c arch/tsc_calc.c \
	mm/frame.c mm/mm.c mm/paging.c \
	drivers/uart.c drivers/printk.c drivers/lapic.c drivers/pit.c \
	drivers/platform.c drivers/acpi.c drivers/acpi_boot.c \
	drivers/rtc_time.c drivers/wallclock.c \
	vmx/caps.c vmx/vmxon.c vmx/vmcs.c vmx/entry.S vmx/exit.c vmx/exit_names.c \
	vmx/exit_misc.c vmx/exit_io.c vmx/exit_msr.c vmx/exit_cr.c vmx/exit_ept.c \
	vmx/exit_vmcall.c \
	ept/ept.c ept/dirty.c ept/dirty_bitmap.c ept/rmap.c ept/shadow_page.c \
	ept/page_track.c ept/shadow_mmu.c vmx/exit_shadow.c \
	guest/config.c guest/default_config.S guest/guest.c guest/lifecycle.c \
	guest/vcpu.c guest/loader.c guest/bootinfo.c guest/boot_place.c \
	guest/devices.c \
	guest/vuart.c guest/fwcfg.c guest/snapshot.c guest/migrate.c \
	vmx/vcpu_state.c vmx/xcr0.c \
	guest/vlapic.c guest/vlapic_ipi.c guest/vlapic_access.c guest/vlapic_page.c \
	vmx/exit_apic.c \
	vmx/exit_nmi.c \
	guest/linux_boot.c guest/linux_elf.c guest/acpi_tables.c guest/aml.c \
	guest/loader_linux.c guest/ioapic.c guest/vpic.c guest/isa.c \
	guest/acpi_pm.c guest/console.c \
	guest/console_ring.c guest/vrtc.c guest/vmsr.c guest/port92.c \
	guest/pci.c guest/pci_cfg.c guest/virtq.c guest/virtio_pci.c \
	guest/virtio_blk.c guest/virtio_net.c guest/virtio_console.c \
	guest/shm.c

EMUL_SRCS := emul/decode.c emul/opcodes.c emul/exec.c emul/alu.c emul/strops.c \
	emul/mem.c emul/walk.c emul/sse.c emul/system.c emul/desc.c \
	emul/segload.c emul/branch.c emul/icache.c
KERNEL_SRCS += $(EMUL_SRCS)
KERNEL_SRCS += vmx/emulate.c vmx/realmode.c guest/mmio.c guest/testdev.c

KERNEL_OBJS := $(patsubst %,$(BUILD)/k/%.o,$(KERNEL_SRCS))

# Host unit tests: tests/unit/test_NAME.c linked with UNIT_SRCS_NAME.
UNIT_TESTS := frame mb2 acpi config dirty_bitmap rmap shadow_page shadow_pte \
	page_track vlapic linux_boot linux_elf acpi_tables ioapic vuart console \
	rtc_time vrtc tsc console_ring xcr0 boot_place vmsr port92 virtq pci_cfg \
	emul_decode emul_exec emul_string emul_walk emul_access emul_seg \
	emul_segload emul_icache emul_system shm vpic
UNIT_SRCS_config := guest/config.c
UNIT_SRCS_dirty_bitmap := ept/dirty_bitmap.c
UNIT_SRCS_rmap := ept/rmap.c
UNIT_SRCS_shadow_page := ept/shadow_page.c ept/rmap.c
UNIT_SRCS_shadow_pte :=
UNIT_SRCS_page_track := ept/page_track.c
UNIT_SRCS_vlapic := guest/vlapic.c guest/vlapic_ipi.c guest/vlapic_page.c \
	guest/ioapic.c
UNIT_SRCS_linux_boot := guest/linux_boot.c
UNIT_SRCS_linux_elf := guest/linux_elf.c guest/linux_boot.c
UNIT_SRCS_acpi_tables := guest/acpi_tables.c guest/aml.c drivers/acpi.c
UNIT_SRCS_rtc_time := drivers/rtc_time.c
UNIT_SRCS_tsc := arch/tsc_calc.c
UNIT_SRCS_vrtc := guest/vrtc.c drivers/rtc_time.c
UNIT_SRCS_boot_place := guest/boot_place.c
UNIT_SRCS_vmsr := guest/vmsr.c
UNIT_SRCS_port92 := guest/port92.c
UNIT_SRCS_pci_cfg := guest/pci_cfg.c
UNIT_SRCS_virtq := guest/virtq.c
UNIT_SRCS_ioapic := guest/ioapic.c guest/vlapic.c guest/vlapic_ipi.c \
	guest/vlapic_page.c
UNIT_SRCS_vuart := guest/vuart.c
UNIT_SRCS_vpic := guest/vpic.c
UNIT_SRCS_xcr0 := vmx/xcr0.c
UNIT_SRCS_console :=
UNIT_SRCS_shm :=
UNIT_SRCS_console_ring := guest/console_ring.c
UNIT_SRCS_emul_decode := $(EMUL_SRCS)
UNIT_SRCS_emul_exec := $(EMUL_SRCS)
UNIT_SRCS_emul_string := $(EMUL_SRCS)
UNIT_SRCS_emul_walk := $(EMUL_SRCS)
UNIT_SRCS_emul_access := $(EMUL_SRCS)
UNIT_SRCS_emul_seg := $(EMUL_SRCS)
UNIT_SRCS_emul_segload := $(EMUL_SRCS)
UNIT_SRCS_emul_icache := $(EMUL_SRCS)
UNIT_SRCS_emul_system := $(EMUL_SRCS)
UNIT_SRCS_frame := mm/frame.c
UNIT_LIBS_frame := -pthread
UNIT_SRCS_mb2 := boot/mb2info.c
UNIT_SRCS_acpi := drivers/acpi.c
UNIT_BINS := $(patsubst %,$(BUILD)/host/test_%,$(UNIT_TESTS))

# libFuzzer targets: tests/fuzz/fuzz_NAME.c linked with FUZZ_SRCS_NAME.
FUZZ_TARGETS := config emul
FUZZ_SRCS_config := guest/config.c
FUZZ_SRCS_emul := $(EMUL_SRCS)

# The emulator's oracles: Zydis decodes the same bytes; the host CPU runs
# the same instructions. Optimized, without sanitizers (the CPU oracle runs
# generated code natively).
ORACLES := $(BUILD)/host/oracle_zydis $(BUILD)/host/oracle_cpu \
	$(BUILD)/host/bench_emul
ORACLE_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -DKEEL_HOST -I.
FUZZ_BINS := $(patsubst %,$(BUILD)/host/fuzz_%,$(FUZZ_TARGETS))
FUZZ_CFLAGS := -g -O1 -DKEEL_HOST -I. -fsanitize=fuzzer,address,undefined
FUZZ_SMOKE_RUNS := 20000
FUZZ_SECONDS := 60

ISO_CMDLINE := shutdown=emu
# The images the built-in configuration (guest/default.conf) names.
DEFAULT_GUESTS := hello32:hello32.elf hello64:hello64.elf hello16:hello16.bin

.DEFAULT_GOAL := all
include tests/guests/guests.mk

.PHONY: all run run-console test unit fuzz oracle-long scenarios bench bench-linux deps-build deps-test clean \
	test-linux deps-linux linux-images check unit-check test-unit test-scenarios \
	test-linux-scenarios test-conformance test-conformance-slow test-nested fuzz-guest
all: $(BUILD)/keel.elf $(BUILD)/keel.iso

$(BUILD)/k/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(KCC) $(KCFLAGS) -c $< -o $@

$(BUILD)/k/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(KCC) $(KASFLAGS) -c $< -o $@

$(BUILD)/keel.elf: $(KERNEL_OBJS) linker.ld
	$(KLD) $(KLDFLAGS) -o $@ $(KERNEL_OBJS)

$(BUILD)/k/guest/default_config.S.o: guest/default.conf

$(BUILD)/keel.iso: $(BUILD)/keel.elf tools/mkiso $(GUEST_IMAGES)
	tools/mkiso -o $@ --kernel $(BUILD)/keel.elf --cmdline "$(ISO_CMDLINE)" \
		$(foreach g,$(DEFAULT_GUESTS),--module $(BUILD)/guests/$(word 2,$(subst :, ,$(g))) $(word 1,$(subst :, ,$(g))))

$(BUILD)/host/keelcfg: tools/keelcfg.c guest/config.c guest/config.h
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ tools/keelcfg.c guest/config.c

.SECONDEXPANSION:
$(BUILD)/host/test_%: tests/unit/test_%.c tests/unit/test.h $$(UNIT_SRCS_$$*)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ $< $(UNIT_SRCS_$*) $(UNIT_LIBS_$*)

$(BUILD)/host/oracle_zydis: tests/emul/oracle_zydis.c tests/emul/fake_machine.h $(EMUL_SRCS)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(ORACLE_CFLAGS) -o $@ $< $(EMUL_SRCS) -lZydis -lZycore

$(BUILD)/host/oracle_cpu: tests/emul/oracle_cpu.c tests/emul/fake_machine.h $(EMUL_SRCS)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(ORACLE_CFLAGS) -o $@ $< $(EMUL_SRCS)

# Host throughput (BENCH lines: emulated instructions/s, Zydis decodes/s).
$(BUILD)/host/bench_emul: tests/emul/bench_emul.c tests/emul/fake_machine.h $(EMUL_SRCS)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(ORACLE_CFLAGS) -o $@ $< $(EMUL_SRCS) -lZydis -lZycore

$(BUILD)/host/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRCS_$$*)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*)

deps-build:
	@tools/deps.sh build

deps-test:
	@tools/deps.sh all

deps-linux:
	@tools/deps.sh build bochs linux

# The Linux guest: Debian's current linux-image-amd64 kernel, fetched as a
# package file and unpacked into build/linux/kernel (tools/fetch-linux;
# nothing is installed into the host), the vmlinux inside its bzImage, an
# initramfs from busybox-static and the kernel's virtio, ext4 and uio
# modules, the ext4 test disk (tools/mkdisk; a guest's writes change it,
# so give a test a copy when it must start from the same bytes), and the
# scenarios (tests/linux/*.scn.in) with that kernel's version in their
# expected lines.
LINUX_DIR := $(BUILD)/linux
LINUX_SCENARIOS := linux linux-memtest linux-virtio linux-shm linux-shadow
linux-images: deps-linux
	@mkdir -p $(LINUX_DIR)
	@tools/fetch-linux $(LINUX_DIR)/kernel
	@v=$$(cat $(LINUX_DIR)/kernel/version); \
	 k=$(LINUX_DIR)/kernel/root/boot/vmlinuz-$$v; \
	 cmp -s $$k $(LINUX_DIR)/bzImage || cp $$k $(LINUX_DIR)/bzImage; \
	 for s in $(LINUX_SCENARIOS); do \
		sed "s/@KVER@/$$(echo $$v | sed 's/\./\\\\./g')/" \
			tests/linux/$$s.scn.in > $(LINUX_DIR)/$$s.scn; \
	 done
	@$(MAKE) -s $(LINUX_DIR)/initramfs.cpio.gz $(LINUX_DIR)/vmlinux \
		$(BUILD)/disk.ext4

$(LINUX_DIR)/initramfs.cpio.gz: tools/mkinitramfs tests/linux/init \
		$(LINUX_DIR)/kernel/version
	tools/mkinitramfs -k $(LINUX_DIR)/kernel $@

$(BUILD)/disk.ext4: tools/mkdisk
	tools/mkdisk $@ 16

$(LINUX_DIR)/vmlinux: $(LINUX_DIR)/bzImage tools/extract-vmlinux
	tools/extract-vmlinux $< $@

test-linux: linux-images
	@$(MAKE) -s all
	@tools/scenarios $(LINUX_DIR)/linux.scn

# Keel under qemu-system-x86_64 -enable-kvm -cpu host inside Linux with
# kvm_intel nested=1 inside Bochs (the rig in /work/shared/nested-kvm,
# NESTED_KVM overrides it), with the guests of tests/nested/nested.scn in
# one boot. The rig's L1 kernel and KVM modules come from the package
# tools/fetch-linux unpacks for the Linux guest. Linux boots in Bochs in
# about 4 minutes; Keel's guests under KVM take much longer (README,
# "Nested under QEMU/KVM"); not part of make test. EMU=bochs boots the
# same ISO directly in Bochs, for comparison.
test-nested:
	@$(MAKE) -s all
	@tools/fetch-linux $(LINUX_DIR)/kernel
	@tools/nested $(if $(EMU),--emu $(EMU)) $(if $(ONLY),--only $(ONLY))

unit test-unit: deps-test
	@$(MAKE) -s $(UNIT_BINS) $(FUZZ_BINS) $(ORACLES) $(BUILD)/host/keelcfg
	@tools/unit $(UNIT_BINS) $(ORACLES) tests/tools/test_keelcfg.sh \
		tests/tools/test_extract_vmlinux.py \
		"tests/fuzz/smoke.sh $(FUZZ_SMOKE_RUNS) $(foreach t,$(FUZZ_TARGETS),$(BUILD)/host/fuzz_$(t) tests/fuzz/corpus/$(t))"

# make check's host tests: the same programs, the CPU oracle on 50 cases
# per form and a shorter fuzz smoke run.
unit-check: deps-test
	@KEEL_ORACLE_CASES=50 $(MAKE) -s unit FUZZ_SMOKE_RUNS=2000

# The CPU oracle with ORACLE_CASES cases per instruction form (make test
# runs 400 per form); not part of make test.
ORACLE_CASES := 100000
oracle-long: deps-test
	@$(MAKE) -s $(BUILD)/host/oracle_cpu
	@KEEL_ORACLE_CASES=$(ORACLE_CASES) $(BUILD)/host/oracle_cpu | grep -v '^PASS '

# Longer fuzzing, FUZZ_SECONDS per target; not part of make test.
fuzz: deps-test
	@$(MAKE) -s $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/$$t && cp -n tests/fuzz/corpus/$$t/* $(BUILD)/fuzz/$$t/; \
		$(BUILD)/host/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/$$t || exit 1; \
	done

# Linux next to a test guest runs longest: those manifests go first, so
# that they start at once and the others follow in the freed slots.
# TIMES collects each scenario's time for make test's summary.
TIMES := $(BUILD)/test-times.tsv
SCENARIOS_RUN = tools/scenarios --times $(TIMES) $(if $(ONLY),--only $(ONLY))
scenarios: deps-test
	@$(MAKE) -s all linux-images
	@$(SCENARIOS_RUN) $(LINUX_DIR)/linux-memtest.scn \
		$(LINUX_DIR)/linux-virtio.scn $(LINUX_DIR)/linux-shm.scn \
		$(sort $(wildcard tests/scenarios/*.scn))

test-scenarios: deps-test
	@$(MAKE) -s all
	@$(SCENARIOS_RUN) $(sort $(wildcard tests/scenarios/*.scn))

test-linux-scenarios: deps-test
	@$(MAKE) -s all linux-images
	@$(SCENARIOS_RUN) $(LINUX_DIR)/linux-memtest.scn \
		$(LINUX_DIR)/linux-virtio.scn $(LINUX_DIR)/linux-shm.scn

check: deps-test
	@$(MAKE) -s all
	@tools/stages --times $(TIMES) \
		"unit=$(MAKE) -s unit-check" \
		"scenarios=tools/scenarios --times $(TIMES) --tier check"

test: deps-test
	@tools/stages --times $(TIMES) \
		"unit=$(MAKE) -s unit" \
		"scenarios=$(MAKE) -s scenarios" \
		"conformance=$(MAKE) -s test-conformance"

# kvm-unit-tests, read from ../shared/kvm-unit-tests (KEEL_KUT_DIR
# overrides): the fast tier in make test, the slow one apart.
CONFORMANCE_ARGS = $(foreach m,$(MODE),--mode $(m)) $(foreach o,$(ONLY),--only $(o))
test-conformance: deps-test
	@$(MAKE) -s all
	@tools/conformance --times $(TIMES) $(CONFORMANCE_ARGS)

test-conformance-slow: deps-test
	@$(MAKE) -s all
	@tools/conformance --slow $(CONFORMANCE_ARGS)

run: deps-test
	@$(MAKE) -s all
	@tools/run --interactive --emu auto --timeout 0

# Two echo guests (tests/guests/echo.c) to type to: Ctrl-A x3 moves the
# console's focus, "bye" ends a guest.
CONSOLE_ISO := $(BUILD)/console.iso
run-console: deps-test
	@$(MAKE) -s all
	@tools/mkiso -o $(CONSOLE_ISO) --kernel $(BUILD)/keel.elf \
		--cmdline "$(ISO_CMDLINE)" \
		--module tests/scenarios/conf/console-focus.conf keel.conf \
		--module $(GUEST_OUT)/echo.elf echo \
		--module $(GUEST_OUT)/echo64.elf echo64
	@tools/run --interactive --emu auto --timeout 0 --cpus 3 \
		--iso $(CONSOLE_ISO)

# A long fuzz run in Bochs (tests/guests/fuzz.c next to memtest), each
# guest bounded by MINUTES of wall time through a TSC budget:
# make fuzz-guest SEED=N MINUTES=M [PAGING=ept|shadow] [TRACE=S].
# FUZZ_TICKS_PER_SECOND_*: the fuzz guest's TSC ticks per wall-clock
# second in Bochs on the 2-core build machines, per paging mode (measured
# 21 million under EPT and 12 million under shadow paging, which spends
# more of Bochs's time in Keel, with both running at once beside other
# Bochs runs; the load of the machine moves them), so MINUTES is
# approximate: a slower run may take up to twice MINUTES before tools/run
# gives up.
SEED := 1
MINUTES := 10
PAGING := ept
TRACE :=
FUZZ_TICKS_PER_SECOND_ept := 21000000
FUZZ_TICKS_PER_SECOND_shadow := 12000000
fuzz-guest: deps-test
	@$(MAKE) -s all
	@tools/fuzz-guest $(SEED) $(MINUTES) $(PAGING) \
		$(FUZZ_TICKS_PER_SECOND_$(PAGING)) $(TRACE)

# kvm-unit-tests' vmexit benchmark for make bench (tools/bench, runs
# vmexit and vmexit-notpr), built from the source archive in KUT_DIR into
# $(BUILD)/kut-vmexit, never in the shared directory. x86/vmexit.c doubles
# its loop until one pass spans GOAL TSC ticks. Upstream's 2^30 takes
# under a second per test on hardware, but Bochs's TSC counts emulated
# instructions: more than 10 minutes per test there (kut.manifest), and
# 2^22 about 2 s. The #define is unconditional, so a -D cannot change
# it: the copy's line is edited with sed, and the edit is checked.
KUT_DIR := $(or $(KEEL_KUT_DIR),../shared/kvm-unit-tests)
KUT_ARCHIVE = $(firstword $(wildcard $(KUT_DIR)/kvm-unit-tests-*.tar.gz))
KUT_VMEXIT := $(BUILD)/kut-vmexit/kvm-unit-tests
KUT_VMEXIT_GOAL := 22
$(KUT_VMEXIT)/x86/vmexit.flat: $(KUT_ARCHIVE) Makefile
	@test -n "$(KUT_ARCHIVE)" || \
		{ echo "no kvm-unit-tests-*.tar.gz in $(KUT_DIR)" >&2; exit 1; }
	rm -rf $(BUILD)/kut-vmexit
	mkdir -p $(BUILD)/kut-vmexit
	tar -xzf $(KUT_ARCHIVE) -C $(BUILD)/kut-vmexit
	sed -i 's/^#define GOAL (1ull << 30)$$/#define GOAL (1ull << $(KUT_VMEXIT_GOAL))/' \
		$(KUT_VMEXIT)/x86/vmexit.c
	grep -q '^#define GOAL (1ull << $(KUT_VMEXIT_GOAL))$$' $(KUT_VMEXIT)/x86/vmexit.c
	cd $(KUT_VMEXIT) && ./configure >/dev/null && \
		$(MAKE) x86/vmexit.flat >/dev/null

bench: deps-test
	@$(MAKE) -s all $(BUILD)/host/bench_emul $(KUT_VMEXIT)/x86/vmexit.flat
	@tools/bench

bench-linux: linux-images
	@$(MAKE) -s all
	@tools/bench-linux

clean:
	rm -rf $(BUILD)

-include $(KERNEL_OBJS:.o=.d)
