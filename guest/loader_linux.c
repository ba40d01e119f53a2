/*
 * `format = linux`: a bzImage, or the vmlinux ELF inside one, booted
 * through the 64-bit entry point (Documentation/arch/x86/boot.rst,
 * "64-bit Boot Protocol"): the protected-mode kernel at its load address
 * (a vmlinux: each segment at its physical address, so the kernel starts
 * without running its decompressor), the initrd high in RAM, the zero
 * page, command line and boot GDT low, ACPI tables at 0xe0000 and
 * identity page tables over all RAM; the vCPU enters startup_64 in long
 * mode with CS = __BOOT_CS, the data segments __BOOT_DS, RSI = the zero
 * page and interrupts off. Layout: guest/linux_boot.h.
 */
#include "guest/loader.h"
#include "guest/linux_boot.h"
#include "guest/acpi_tables.h"
#include "guest/bootinfo.h"
#include "guest/guest.h"
#include "arch/string.h"
#include "mm/layout.h"
#include "mm/mm.h"

_Static_assert(LINUX_PT_SIZE == BOOTINFO_PT_SIZE, "page tables at the top");
_Static_assert(ACPI_TABLES_SIZE <= LINUX_ACPI_SIZE, "ACPI area");
_Static_assert(ACPI_TABLES_GPA == LINUX_ACPI_BASE, "ACPI area");

/* The zero page is built in a scratch page, the ACPI tables by
 * loader_write_acpi(). `img` is the bzImage whose setup header the zero page copies, or NULL
 * for a vmlinux (the header is made from *h). */
static const char *linux_write_boot_data(struct guest *g, const uint8_t *img,
					 const struct linux_header *h,
					 const struct linux_layout *l)
{
	uint64_t pa = mm_alloc_pages(0);
	uint64_t gdt[LINUX_GDT_ENTRIES];
	uint64_t rsdp = loader_write_acpi(g);
	uint8_t *zp;
	bool ok;

	if (pa == FRAME_NONE)
		return "not enough host memory to build its zero page";
	zp = phys_to_virt(pa);
	linux_zero_page(zp, img, h, l, g->mem_size, rsdp);
	linux_boot_gdt(gdt);
	ok = rsdp && guest_write(g, l->zero_page, zp, BP_SIZE) &&
	     guest_write(g, l->cmdline, g->cfg->cmdline,
			 strlen(g->cfg->cmdline) + 1) &&
	     guest_write(g, LINUX_BOOT_GDT, gdt, sizeof(gdt));
	mm_free_pages(pa, 0);
	return ok ? NULL : "its boot data does not fit in its memory";
}

/* A vmlinux's segments at their physical addresses. Guest RAM starts
 * zeroed (guest_mem_init), so the bytes past a segment's file part (its
 * bss) need no writes. */
static const char *linux_load_elf(struct guest *g,
				  const struct loader_image *img,
				  const struct linux_elf *e)
{
	for (unsigned int i = 0; i < e->nr_loads; i++) {
		const struct linux_segment *s = &e->loads[i];

		if (!guest_write(g, s->paddr, img->data + s->offset, s->filesz))
			return "vmlinux: a segment does not fit in the guest's "
			       "memory";
	}
	return NULL;
}

/* The kernel's bytes in guest RAM: a bzImage's protected-mode part at the
 * planned load address, or a vmlinux's segments. */
static const char *linux_load_kernel(struct guest *g,
				     const struct loader_image *img,
				     const struct linux_header *h,
				     const struct linux_elf *e,
				     const struct linux_layout *l)
{
	if (e)
		return linux_load_elf(g, img, e);
	if (!guest_write(g, l->kernel, img->data + h->setup_size,
			 h->kernel_size))
		return "the kernel does not fit in the guest's memory";
	return NULL;
}

/* The 64-bit boot protocol's entry state (boot.rst). */
static void linux_entry_state(const struct linux_layout *l,
			      struct vcpu_boot *boot)
{
	boot->mode = VCPU_MODE_LONG64;
	boot->rip = l->entry;
	boot->rsi = l->zero_page;
	boot->rsp = l->stack;
	boot->gdt_base = LINUX_BOOT_GDT;
	boot->gdt_limit = LINUX_GDT_ENTRIES * 8 - 1;
	boot->code_sel = LINUX_BOOT_CS;
	boot->data_sel = LINUX_BOOT_DS;
}

const char *loader_load_linux(struct guest *g, const struct loader_image *img,
			      const struct loader_module *initrd,
			      struct vcpu_boot *boot)
{
	bool is_elf = linux_is_elf(img->data, img->size);
	struct linux_header h;
	struct linux_layout l;
	struct linux_elf e;
	const char *why = is_elf ? linux_parse_elf(img->data, img->size, &h, &e)
				 : linux_parse_header(img->data, img->size, &h);

	if (!why)
		why = linux_plan(&h, g->mem_size, initrd ? initrd->size : 0,
				 strlen(g->cfg->cmdline), &l);
	if (!why)
		why = linux_load_kernel(g, img, &h, is_elf ? &e : NULL, &l);
	if (why)
		return why;
	if (initrd && !guest_write(g, l.initrd, initrd->data, initrd->size))
		return "the initrd does not fit in the guest's memory";
	why = linux_write_boot_data(g, is_elf ? NULL : img->data, &h, &l);
	if (!why)
		why = bootinfo_page_tables(g, &boot->cr3);
	linux_entry_state(&l, boot);
	return why;
}
