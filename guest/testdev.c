/*
 * Keel's test device, after QEMU's pc-testdev: what test guests use to
 * reach the instruction emulator.
 *
 *   ports 0xe0-0xe7            scratch: each port reads back the last value
 *                              written to it (1, 2 or 4 bytes; a narrower
 *                              read returns the low bytes, a wider one the
 *                              value zero-extended)
 *   ports 0x2000-0x2017        interrupt lines: a write sets line
 *                              (port - 0x2000) high (non-zero) or low
 *                              (zero): lines 0-15 are the ISA IRQs (the
 *                              8259s and I/O APIC pins 0-15), 16-23 I/O
 *                              APIC pins only; reads return 0
 *   0xff000000 +------------+  scratch memory, 64 KiB of host frames that
 *              |  64 KiB    |  are never mapped in EPT: every access exits
 *   0xff010000 +------------+  and is emulated (vmx/emulate.c)
 *
 * The memory starts zeroed. Accesses from several vCPUs are not ordered
 * against each other beyond what each single access does (like a plain
 * device register, not like RAM: no locked access is atomic here).
 */
#include "guest/guest.h"
#include "arch/errno.h"
#include "arch/string.h"
#include "mm/layout.h"
#include "mm/mm.h"

static uint32_t size_mask(unsigned int size)
{
	return size >= 4 ? ~0u : (1u << (size * 8)) - 1;
}

static void testdev_irq_io(struct guest *g, unsigned int pin, unsigned int size,
			   bool in, uint32_t *val)
{
	bool level = (*val & size_mask(size)) != 0;

	if (in)
		*val = 0;
	else if (pin < VPIC_IRQS)
		isa_set_irq(g, pin, level);
	else
		ioapic_set_irq(g, pin, level);
}

void testdev_port_io(struct guest *g, uint16_t port, unsigned int size,
		     bool in, uint32_t *val)
{
	uint32_t *reg;

	if (port >= TESTDEV_IRQ_BASE) {
		testdev_irq_io(g, port - TESTDEV_IRQ_BASE, size, in, val);
		return;
	}
	reg = &g->dev.testdev.scratch[port - TESTDEV_PORT_BASE];
	if (in)
		*val = *reg & size_mask(size);
	else
		*reg = *val & size_mask(size);
}

static void testdev_mem_read(struct guest *g, void *opaque, uint64_t off,
			     void *buf, unsigned int len)
{
	struct testdev *t = opaque;

	(void)g;
	memcpy(buf, t->mem + off, len);
}

static void testdev_mem_write(struct guest *g, void *opaque, uint64_t off,
			      const void *buf, unsigned int len)
{
	struct testdev *t = opaque;

	(void)g;
	memcpy(t->mem + off, buf, len);
}

void testdev_free(struct guest *g)
{
	struct testdev *t = &g->dev.testdev;

	if (!t->mem_pa)
		return;
	mm_free_pages(t->mem_pa, TESTDEV_MEM_ORDER);
	t->mem_pa = 0;
	t->mem = NULL;
}

int testdev_init(struct guest *g)
{
	struct testdev *t = &g->dev.testdev;
	uint64_t pa = mm_alloc_pages(TESTDEV_MEM_ORDER);
	int err;

	if (pa == FRAME_NONE)
		return -ENOMEM;
	t->mem_pa = pa;
	t->mem = phys_to_virt(pa);
	err = mmio_register(g, &(struct mmio_region){
		.gpa = TESTDEV_MEM_GPA, .size = TESTDEV_MEM_SIZE,
		.read = testdev_mem_read, .write = testdev_mem_write,
		.opaque = t });
	if (err)
		testdev_free(g);
	return err;
}
