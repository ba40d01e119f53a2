/*
 * Boot self-checks. Each prints `keel: check NAME: ok` or
 * `keel: check NAME: FAILED: why`; their tally (with the guests' verdicts,
 * once guests run) makes the final `keel: done: P passed, F failed` line.
 */
#include "boot/boot.h"
#include "arch/percpu.h"
#include "arch/smp.h"
#include "drivers/platform.h"
#include "drivers/printk.h"
#include "guest/guest.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "vmx/vmx.h"

static unsigned int checks_passed, checks_failed;

static void check_report(const char *name, const char *failure)
{
	if (failure) {
		checks_failed++;
		pr_err("keel: check %s: FAILED: %s\n", name, failure);
	} else {
		checks_passed++;
		pr_info("keel: check %s: ok\n", name);
	}
}

static const char *check_smp(void)
{
	unsigned int want = MIN(cpus_possible, (unsigned int)MAX_CPUS);

	return cpus_online == want ? NULL : "not every CPU in the MADT came up";
}

/* A 4 KiB and a 2 MiB block come back aligned and all is returned. */
static const char *check_mm(void)
{
	uint64_t before = mm_free_bytes();
	uint64_t small = mm_alloc_pages(0), big = mm_alloc_pages(9);
	const char *why = NULL;

	if (small == FRAME_NONE || big == FRAME_NONE)
		why = "allocation failed";
	else if (!IS_ALIGNED(small, 4 * KiB) || !IS_ALIGNED(big, 2 * MiB))
		why = "block not naturally aligned";
	else if (mm_free_bytes() != before - 4 * KiB - 2 * MiB)
		why = "free bytes off after allocation";
	if (small != FRAME_NONE)
		mm_free_pages(small, 0);
	if (big != FRAME_NONE)
		mm_free_pages(big, 9);
	if (!why && mm_free_bytes() != before)
		why = "free bytes not restored after freeing";
	return why;
}

/* Every CPU is in VMX root operation, or every CPU said why it cannot be. */
static const char *check_vmx(void)
{
	unsigned int on = 0, off = 0;

	for (unsigned int i = 0; i < cpus_online; i++) {
		if (percpu[i].state == CPU_VMX_ON)
			on++;
		else if (percpu[i].state == CPU_VMX_UNAVAILABLE &&
			 percpu[i].vmx_reason)
			off++;
	}
	if (on + off != cpus_online)
		return "a CPU neither entered VMX operation nor said why";
	if (on && off)
		return "VMX works on some CPUs only";
	return NULL;
}

static bool vmx_everywhere(void)
{
	for (unsigned int i = 0; i < cpus_online; i++)
		if (percpu[i].state != CPU_VMX_ON)
			return false;
	return true;
}

/*
 * With guests configured, the done line counts guests (a guest passes with
 * exit status 1) plus any failed boot check; without guests, the checks.
 */
__noreturn void boot_finish(void)
{
	unsigned int started, refused, passed;

	check_report("smp", check_smp());
	check_report("mm", check_mm());
	check_report("vmx", check_vmx());
	if (boot.bench) {
		struct frame_stats st;

		frame_get_stats(&host_frames, &st);
		pr_info("BENCH name=keel_image_kib kib=%lu\n",
			((uint64_t)_image_end_phys - (uint64_t)_image_start_phys) >> 10);
		/* Keel's dynamic memory: frame metadata plus every block
		 * allocated so far (stacks, VMXON regions; no guest yet). */
		pr_info("BENCH name=keel_heap_kib kib=%lu\n",
			(st.used_bytes + mm_meta_bytes) >> 10);
	}
	if (!vmx_everywhere()) {
		pr_info("keel: guests: VMX is not available; no guest runs\n");
	} else {
		started = guests_start(&refused);
		passed = guests_wait(started);
		if (started + refused) {
			checks_passed = passed;
			checks_failed += started + refused - passed;
		}
	}
	pr_info("keel: done: %u passed, %u failed\n", checks_passed,
		checks_failed);
	platform_shutdown();
}
