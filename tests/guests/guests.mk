# Test guests (included by the top Makefile; run from the repository root).
#
#   make guests     every image in GUEST_IMAGES, into build/guests/
#
#   hello32.elf     multiboot   hello, checks the boot magic and info
#   hello64.elf     elf64       the same C, 64-bit
#   hello16.bin     realmode    16-bit assembly, load/entry 0x7c00
#   pic16.bin       realmode    the 8259s: IRQ 11 at vector 0x73 after sti; hlt
#   helloflat.bin   flat        the 32-bit hello as a flat binary, load and
#                               entry 0x100000
#   cpuid.elf       multiboot   CPUID, MSRs, hypercalls, fw-cfg, ports
#   memtest.elf     multiboot   pattern test over all RAM above 1 MiB
#   rtctest.elf     multiboot   the CMOS RTC: registers, seconds against
#                               the TSC, SET, CMOS RAM; rtc=0: absent
#   isolation.elf   multiboot   reads past its RAM: Keel must stop it
#   bench.elf       multiboot   ticks per VM exit (CPUID, VMCALL, OUT);
#                               apic=1: local APIC paths (EOI, register
#                               reads, self IPI, TSC deadline, IPI ping-pong
#                               between two vCPUs)
#   bench64.elf     elf64       the same; apic=1: MOV to and from CR8
#   migrate.elf     multiboot   dirties its RAM while Keel migrates it, then
#                               checks every page against its checksum;
#                               hostile=MODE: fights over the dirty log
#                               meanwhile and checks Keel's -22 answers
#   snapshot.elf    multiboot   snapshot, scribble, restore, check; ticks
#                               per restore
#   dirtybench.elf  multiboot   ticks and exits per first write under each
#                               dirty-logging mode
#   vidredeliver.elf multiboot  APIC timer interrupts whose frames land on
#                               pages the dirty log has just cleaned
#                               (mode=wp|pml|ad): none lost, ISR clear
#   emultest.elf    multiboot   the instruction emulator: every form on the
#                               testdev's MMIO and through forced emulation
#                               against native runs; string I/O; faults
#   emultest64.elf  elf64       the same, 64-bit (REX, RIP-relative, MOVSXD,
#                               CMPXCHG16B)
#   apictest.elf    multiboot   the virtual local APIC: xAPIC and x2APIC
#                               registers, timers, IPIs, EOI; test=smp starts
#                               a second vCPU with INIT-SIPI-SIPI; test=tpr:
#                               the TPR alone, no timer
#   apictest64.elf  elf64       the same (x2APIC only), and CR8 as the TPR
#   debugtest.elf   multiboot   single-stepping across exits (CPUID, port
#                               I/O, MOV SS, STI;HLT): one #DB each, DR6.BS
#   pgtorture.elf   multiboot   its own page tables under stress, checked
#                               against its model: mode=32 or mode=pae;
#                               bench=1 for ticks per fault, CR3 switch and
#                               PTE write
#   pgtorture64.elf elf64       the same in 4-level paging (mode=4level)
#   smppaging.elf   multiboot   two vCPUs on one set of page tables: the BSP
#                               remaps a window, both read it (needs 2 vCPUs;
#                               starts vCPU 1 with KEEL_HC_VCPU_START)
#   hostile_shadow.elf multiboot paging moves that once trapped Keel:
#                               CR4.SMEP/SMAP/PKE with paging off,
#                               unemulated stores into the live page
#                               directory, bad PAE PDPTEs on MOV to
#                               CR0/CR3/CR4, D in read-only large pages
#                               with CR0.WP = 0 (test=NAME, default all)
#   pctest.elf      multiboot   the PC platform: boot data outside the image,
#                               ACPI tables (checksums, MADT), the I/O APIC's
#                               registers and the UART's interrupt through it
#   pctestlow.elf   multiboot   the same linked at 0x8000
#   pcitest.elf     multiboot   the PCI bus (devices "pci"): both
#                               configuration mechanisms against the specs,
#                               the host bridge, hostile writes all over
#                               configuration space (from a second vCPU too,
#                               if any) and the memory window, MCFG;
#                               mode=absent: a guest without the bus
#   shmtest.elf     multiboot   shared memory and its doorbell device:
#                               role=a (MSI-X), b (INTx), c (read-only)
#                               of one region at gpa=
#   blktest.elf     multiboot   a virtio-blk disk (disk = "disk1m") against
#                               virtio 1.2: features, capacity, reads,
#                               writes, flush, GET_ID, bounds, UNSUPP,
#                               MSI-X and INTx; mode=ro: the same disk
#                               read-only, original data, writes IOERR
#   hostile_virtio.elf multiboot malformed chains and queue set-ups, BAR
#                               moves, notify storms, bad MSI-X entries:
#                               DEVICE_NEEDS_RESET, then reset works; with
#                               a second vCPU, it races the first over the
#                               rings (storm=, flood=, race= for counts)
#   hostile_net.elf multiboot   the same chains on virtio-net's two queues
#                               and virtio-console's transmit queue, frames
#                               of the wrong size, bad receive buffers,
#                               strays and a broadcast flood (flood=,
#                               batches=, conmib=); mode=peer: the guest on
#                               its network that checks every frame it gets
#   disk1m.img      data        the disk those two read (mkdisk, a host
#                               tool: tests/guests/diskpattern.h)
#   echo.elf        multiboot   reads its UART by polling and prints each
#                               line it gets, until "bye"
#   echo64.elf      elf64       the same, 64-bit
#   hostile_xcr0.elf multiboot  XSETBV with every illegal XCR0 value (#GP,
#                               XCR0 unchanged) and every legal one; at
#                               CPL 3; vector registers across a snapshot
#   hostile_xcr064.elf elf64    the same (upper halves of RCX/RAX/RDX
#                               instead of CPL 3)
#   hostile_singlestep64.elf elf64  TF across instructions Keel completes
#                               at an exit: one #DB, just past each
#   hostile_cr64.elf elf64      MOV to CR0/CR4 with values 64-bit mode
#                               refuses: #GP(0), the register unchanged
#   avxstate.elf    multiboot   ZMM0-7 and k0-k7 across every kind of exit;
#                               XSAVE, XSAVEC and XRSTOR (compacted) round
#                               trips, the init optimization; xsavec=judge
#                               judges XSAVEC where its layout is wrong
#   avxstate64.elf  elf64       the same with ZMM0-31
#   hostile_smp.elf multiboot   two vCPUs at once: IPI, NMI, INIT/SIPI and
#                               timer storms, illegal vectors, bad LDR/DFR,
#                               the APIC switched off under IPIs, device
#                               ports, bad hypercalls, page tables rewritten
#                               under the other vCPU (test=, ipis=, flaps=,
#                               loops=, rounds=)
#   fuzz64.elf      elf64       random but reproducible attacks on Keel
#                               (seed=, steps=, ticks=, trace=), surviving
#                               its own faults
#
# The library in tests/guests/lib is built twice: lib/x86_32 or lib/x86_64
# on the include path picks the layouts that differ.

GUEST_DIR  := tests/guests
GUEST_OUT  := $(or $(BUILD),build)/guests
GUEST_CC   := gcc
GUEST_LD   := ld
GUEST_OBJCOPY := objcopy

GUEST_CFLAGS := -std=gnu11 -O2 -ffreestanding -fno-builtin -fno-pic -fno-pie \
	-nostdlib -static -fno-stack-protector -fno-asynchronous-unwind-tables \
	-fcf-protection=none -mgeneral-regs-only -fno-strict-aliasing \
	-Wall -Wextra -Werror -Wshadow -MMD -MP
GUEST_CFLAGS32 := -m32 $(GUEST_CFLAGS) -I$(GUEST_DIR)/lib/x86_32 \
	-I$(GUEST_DIR)/lib -I.
GUEST_CFLAGS64 := -m64 -mno-red-zone -mcmodel=small $(GUEST_CFLAGS) \
	-I$(GUEST_DIR)/lib/x86_64 -I$(GUEST_DIR)/lib -I.
GUEST_LDFLAGS := -nostdlib -static -z max-page-size=4096 -z noexecstack \
	--no-warn-rwx-segments

GUEST_LIB_SRCS := start.c trap.c print.c check.c bootinfo.c libc.c pci.c \
	virtio.c
GUEST_LIB32 := $(patsubst %.c,$(GUEST_OUT)/lib32/%.o,$(GUEST_LIB_SRCS)) \
	$(GUEST_OUT)/lib32/arch.o $(GUEST_OUT)/lib32/entry.o
GUEST_LIB64 := $(patsubst %.c,$(GUEST_OUT)/lib64/%.o,$(GUEST_LIB_SRCS)) \
	$(GUEST_OUT)/lib64/arch.o $(GUEST_OUT)/lib64/entry.o

# Multiboot guests made of one C file each: tests/guests/NAME.c.
GUEST_MB32 := cpuid memtest isolation bench migrate snapshot dirtybench \
	vidredeliver emultest apictest pgtorture smppaging echo rtctest hostile_xcr0 hostile_shadow pctest debugtest \
	pcitest shmtest blktest hostile_virtio avxstate hostile_net hostile_smp

# Elf64 guests built from the same C as a multiboot one: NAME64.elf from
# tests/guests/NAME.c.
GUEST_ELF64 := emultest apictest pgtorture echo hostile_xcr0 bench \
	hostile_singlestep hostile_cr fuzz avxstate

GUEST_IMAGES := $(addprefix $(GUEST_OUT)/,hello32.elf hello64.elf \
	hello16.bin pic16.bin helloflat.bin pctestlow.elf $(addsuffix .elf,$(GUEST_MB32)) \
	$(addsuffix 64.elf,$(GUEST_ELF64)) disk1m.img)

.PHONY: guests
guests: $(GUEST_IMAGES)

# The library.
$(GUEST_OUT)/lib32/%.o: $(GUEST_DIR)/lib/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS32) -c $< -o $@

$(GUEST_OUT)/lib32/%.o: $(GUEST_DIR)/lib/x86_32/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS32) -c $< -o $@

$(GUEST_OUT)/lib32/%.o: $(GUEST_DIR)/lib/x86_32/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS32) -c $< -o $@

$(GUEST_OUT)/lib64/%.o: $(GUEST_DIR)/lib/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS64) -c $< -o $@

$(GUEST_OUT)/lib64/%.o: $(GUEST_DIR)/lib/x86_64/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS64) -c $< -o $@

$(GUEST_OUT)/lib64/%.o: $(GUEST_DIR)/lib/x86_64/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS64) -c $< -o $@

# The guests' own objects; hello.c is built once per format it runs as.
$(GUEST_OUT)/obj32/%.o: $(GUEST_DIR)/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS32) -c $< -o $@

$(GUEST_OUT)/obj32/hello_%.o: $(GUEST_DIR)/hello.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS32) -DGUEST_FORMAT='"$*"' -c $< -o $@

$(GUEST_OUT)/obj64/%.o: $(GUEST_DIR)/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS64) -c $< -o $@

$(GUEST_OUT)/obj64/hello_%.o: $(GUEST_DIR)/hello.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS64) -DGUEST_FORMAT='"$*"' -c $< -o $@

$(GUEST_OUT)/obj16/%.o: $(GUEST_DIR)/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) -m32 -MMD -MP -c $< -o $@

# Images.
$(addprefix $(GUEST_OUT)/,$(addsuffix .elf,$(GUEST_MB32))): \
		$(GUEST_OUT)/%.elf: $(GUEST_OUT)/obj32/%.o $(GUEST_LIB32) \
		$(GUEST_DIR)/guest32.ld
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -T $(GUEST_DIR)/guest32.ld \
		-o $@ $(filter %.o,$^)

# pctest linked at 0x8000, where the multiboot information once had to be.
$(GUEST_OUT)/pctestlow.elf: $(GUEST_OUT)/obj32/pctest.o $(GUEST_LIB32) \
		$(GUEST_DIR)/guest32.ld
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) --defsym=GUEST_LOAD=0x8000 \
		-T $(GUEST_DIR)/guest32.ld -o $@ $(filter %.o,$^)

$(GUEST_OUT)/hello32.elf: $(GUEST_OUT)/obj32/hello_multiboot.o $(GUEST_LIB32) \
		$(GUEST_DIR)/guest32.ld
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -T $(GUEST_DIR)/guest32.ld \
		-o $@ $(filter %.o,$^)

$(addprefix $(GUEST_OUT)/,$(addsuffix 64.elf,$(GUEST_ELF64))): \
		$(GUEST_OUT)/%64.elf: $(GUEST_OUT)/obj64/%.o $(GUEST_LIB64) \
		$(GUEST_DIR)/guest64.ld
	$(GUEST_LD) -m elf_x86_64 $(GUEST_LDFLAGS) -T $(GUEST_DIR)/guest64.ld \
		-o $@ $(filter %.o,$^)

$(GUEST_OUT)/hello64.elf: $(GUEST_OUT)/obj64/hello_elf64.o $(GUEST_LIB64) \
		$(GUEST_DIR)/guest64.ld
	$(GUEST_LD) -m elf_x86_64 $(GUEST_LDFLAGS) -T $(GUEST_DIR)/guest64.ld \
		-o $@ $(filter %.o,$^)

# Flat binaries keep their ELF beside them for objdump.
$(GUEST_OUT)/helloflat.elf: $(GUEST_OUT)/obj32/hello_flat.o $(GUEST_LIB32) \
		$(GUEST_DIR)/guest32.ld
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -T $(GUEST_DIR)/guest32.ld \
		-o $@ $(filter %.o,$^)

$(GUEST_OUT)/hello16.elf $(GUEST_OUT)/pic16.elf: $(GUEST_OUT)/%.elf: \
		$(GUEST_OUT)/obj16/%.o
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -Ttext=0x7c00 -e _start -o $@ $<

$(GUEST_OUT)/hello16.bin $(GUEST_OUT)/pic16.bin $(GUEST_OUT)/helloflat.bin: \
		$(GUEST_OUT)/%.bin: \
		$(GUEST_OUT)/%.elf
	$(GUEST_OBJCOPY) -O binary $< $@

# The virtio-blk guests' disk: 1 MiB whose every byte the guests can
# predict (tests/guests/diskpattern.h), written by a host tool.
$(GUEST_OUT)/mkdisk: $(GUEST_DIR)/mkdisk.c $(GUEST_DIR)/diskpattern.h
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ $<

$(GUEST_OUT)/disk1m.img: $(GUEST_OUT)/mkdisk
	$< $@

-include $(wildcard $(GUEST_OUT)/*/*.d)
