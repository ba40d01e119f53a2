/*
 * Keel's boot sequence on the bootstrap processor, from boot/entry.S:
 *
 *   console -> boot information -> memory -> TSC -> ACPI -> APs
 *   -> VMX on every CPU -> boot summary -> (guests) -> done
 */
#include "boot/boot.h"
#include "ept/shadow_mmu.h"
#include "guest/config.h"
#include "boot/mb2info.h"
#include "arch/idt.h"
#include "arch/panic.h"
#include "arch/percpu.h"
#include "arch/smp.h"
#include "arch/string.h"
#include "arch/tsc.h"
#include "arch/x86.h"
#include "drivers/acpi_boot.h"
#include "drivers/wallclock.h"
#include "drivers/lapic.h"
#include "drivers/platform.h"
#include "drivers/printk.h"
#include "drivers/uart.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "mm/paging.h"
#include "vmx/vmx.h"
#include "vmx/exit.h"
#include "vmx/vcpu_state.h"
#include "guest/migrate.h"

extern char boot_stack_top[];

struct boot_params boot;
static struct mb2_info mb2;

/* A decimal in [lo, hi], else def. */
static unsigned int boot_number(const char *s, unsigned int lo,
				unsigned int hi, unsigned int def)
{
	unsigned long n = 0;

	if (!*s)
		return def;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > hi)
			return def;
		n = n * 10 + (unsigned long)(*s - '0');
	}
	return n >= lo && n <= hi ? (unsigned int)n : def;
}

static void boot_options(const char *cmdline)
{
	char val[16];

	if (mb2_cmdline_get(cmdline, "loglevel", val, sizeof(val)) > 0 &&
	    val[0] >= '0' && val[0] <= '3')
		log_level_max = val[0] - '0';
	if (mb2_cmdline_get(cmdline, "console", val, sizeof(val)) > 0 &&
	    !strcmp(val, "none"))
		console_enabled = false;
	if (mb2_cmdline_get(cmdline, "shutdown", val, sizeof(val)) > 0 &&
	    !strcmp(val, "emu"))
		platform_shutdown_emu = true;
	boot.stats = mb2_cmdline_bool(cmdline, "keel.stats", false);
	vmx_exit_count_ticks(boot.stats);
	boot.bench = mb2_cmdline_bool(cmdline, "keel.bench", false);
	migrate_verify = mb2_cmdline_bool(cmdline, "keel.migrate_verify", false);
	shadow_unsync_default = mb2_cmdline_bool(cmdline, "keel.shadow_unsync",
						 true);
	shadow_root_cache_default = mb2_cmdline_bool(cmdline,
						     "keel.shadow_root_cache",
						     true);
	shadow_audit_on = mb2_cmdline_bool(cmdline, "keel.shadow_audit", false);
	vlapic_tpr_shadow_on = mb2_cmdline_bool(cmdline, "keel.tpr_shadow", true);
	/* The xAPIC page's virtualization works on the TPR shadow's
	 * virtual-APIC page (SDM Vol. 3C 29.4): without it, none. */
	vlapic_apic_virt_on = mb2_cmdline_bool(cmdline, "keel.apic_virt", true) &&
			      vlapic_tpr_shadow_on;
	/* Virtual-interrupt delivery works on that page (29.2). */
	vlapic_vid_on = mb2_cmdline_bool(cmdline, "keel.vid", true) &&
			vlapic_apic_virt_on;
	if (mb2_cmdline_get(cmdline, "keel.paging", val, sizeof(val)) > 0)
		boot.paging = !strcmp(val, "shadow") ? CONFIG_PAGING_SHADOW :
			      !strcmp(val, "ept") ? CONFIG_PAGING_EPT :
			      CONFIG_PAGING_AUTO;
	if (mb2_cmdline_get(cmdline, "keel.shadow_pages", val, sizeof(val)) > 0)
		shadow_pool_pages = boot_number(val, 64, 65536,
						SHADOW_DEFAULT_PAGES);
}

static void boot_report_mb2(const struct mb2_info *mi)
{
	for (uint32_t i = 0; i < mi->nr_diags; i++)
		pr_warn("keel: multiboot2: %s (tag %u, offset %u, value %#lx)\n",
			mi->diags[i].msg, mi->diags[i].tag, mi->diags[i].offset,
			mi->diags[i].value);
	for (uint32_t i = 0; i < mi->nr_mem; i++)
		pr_debug("keel: mem %016lx-%016lx %s\n", mi->mem[i].base,
			 mi->mem[i].base + mi->mem[i].len,
			 mb2_mem_type_name(mi->mem[i].type));
	for (uint32_t i = 0; i < mi->nr_modules; i++)
		pr_info("keel: module '%s' at %#lx, %lu bytes\n",
			mi->modules[i].name, mi->modules[i].start,
			mi->modules[i].end - mi->modules[i].start);
}

/* The boot information lies in the 0-4 GiB the boot tables map. */
static void boot_parse_info(uint32_t magic, uint32_t info_pa)
{
	uint64_t max = MIN((uint64_t)BOOT_MAP_LIMIT - info_pa, 1 * MiB);

	if (magic != MB2_BOOTLOADER_MAGIC)
		panic("bad multiboot2 magic %#x", magic);
	if (mb2_parse(&mb2, phys_to_virt(info_pa), max) < 0 || !mb2.nr_mem)
		panic("unusable multiboot2 boot information at %#x", info_pa);
	boot.info_pa = info_pa;
	boot.info_size = mb2.size;
	boot.mb2 = &mb2;
}

/* A page below 1 MiB that the memory map says is RAM, for the trampoline. */
static uint64_t boot_trampoline_page(void)
{
	for (uint64_t pa = 0x8000; pa < 0x9f000; pa += PAGE_SIZE)
		for (uint32_t i = 0; i < mb2.nr_mem; i++)
			if (mb2.mem[i].type == MB2_MEM_USABLE &&
			    mb2.mem[i].base <= pa &&
			    mb2.mem[i].base + mb2.mem[i].len >= pa + PAGE_SIZE)
				return pa;
	return 0;
}

static void boot_start_cpus(void)
{
	static struct smp_cpu cpus[MAX_CPUS * 2];
	unsigned int n = acpi_boot_cpus(&mb2, cpus, ARRAY_SIZE(cpus));
	uint64_t tpa = boot_trampoline_page();

	cpus_possible = 0;
	for (unsigned int i = 0; i < n; i++)
		cpus_possible += cpus[i].enabled;
	if (!cpus_possible)
		cpus_possible = 1;
	if (n > 1 && !tpa)
		pr_err("keel: smp: no free page below 1 MiB; only the BSP runs\n");
	else if (n > 1)
		smp_start_aps(cpus, n, tpa);
	paging_drop_identity();
	smp_release_aps();
}

static void boot_wait_vmx(void)
{
	for (unsigned int i = 0; i < cpus_online; i++)
		while (__atomic_load_n(&percpu[i].state, __ATOMIC_ACQUIRE) ==
		       CPU_ONLINE)
			cpu_relax();
}

static void boot_cpu_early(void)
{
	static uint8_t bsp_ist[IST_COUNT][IST_STACK_SIZE] __aligned(16);

	idt_init();
	percpu[0].stack_top = (uint64_t)boot_stack_top;
	for (int i = 0; i < IST_COUNT; i++)
		percpu[0].ist_top[i] = (uint64_t)bsp_ist[i] + IST_STACK_SIZE;
	percpu_init_this(0, 0);
	uart_init(UART_COM1, 115200);
}

void keel_main(uint32_t magic, uint32_t info_pa)
{
	boot_cpu_early();
	boot_parse_info(magic, info_pa);
	boot_options(mb2.cmdline);
	pr_info("keel: Keel booting (loader: %s, cmdline: '%s')\n",
		mb2.loader_name ? mb2.loader_name : "?", mb2.cmdline);
	boot_report_mb2(&mb2);
	if (mm_init(&mb2, boot.info_pa, boot.info_size))
		panic("host memory set-up failed");
	tsc_calibrate();
	lapic_init_this_cpu();
	percpu[0].apic_id = lapic_id();
	vmx_caps_init();                /* before the APs read vmx_caps */
	xsave_init();                   /* before any guest runs */
	boot_start_cpus();
	vmx_cpu_init();
	boot_wait_vmx();
	boot.ticks = rdtsc() - boot_tsc;
	pr_info("keel: boot: %u cpus up, %lu MiB free, %lu ticks\n",
		cpus_online, mm_free_bytes() >> 20, boot.ticks);
	wallclock_init(acpi_boot_rtc_century());
	mm_print_stats();
	boot_finish();
}
