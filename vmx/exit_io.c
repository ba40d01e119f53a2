/* I/O instruction exits (SDM Vol. 3C 28.2.1, Table 28-5). Every port exits
 * (the I/O bitmaps are all ones) and goes to the guest's own devices;
 * INS/OUTS go through the instruction emulator. */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "guest/guest.h"
#include "vmx/emulate.h"

/* OUT: the device gets the low `size` bytes of EAX. Apart from IN so
 * that it keeps nothing across the device's call (retiring does not use
 * v), which spares it saving registers. */
static __attribute__((noinline)) int io_out(struct vcpu *v,
					    unsigned int port,
					    unsigned int size)
{
	uint32_t val = (uint32_t)v->regs.rax;

	devices_port_io(v->guest, (uint16_t)port, size, false, &val);
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

/* IN: a 32-bit IN zero-extends into RAX; 8/16-bit ones merge. */
static __attribute__((noinline)) int io_in(struct vcpu *v, unsigned int port,
					   unsigned int size)
{
	uint64_t mask = size == 4 ? 0xffffffffULL : (1ULL << (size * 8)) - 1;
	uint32_t val;

	devices_port_io(v->guest, (uint16_t)port, size, true, &val);
	v->regs.rax = size == 4 ? val : (v->regs.rax & ~mask) | (val & mask);
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

int handle_io(struct vcpu *v)
{
	uint64_t q = vmcs_readnat(VMCS_EXIT_QUALIFICATION);
	unsigned int size = (unsigned int)(q & IOQ_SIZE_MASK) + 1;
	unsigned int port = (uint16_t)(q >> IOQ_PORT_SHIFT);

	if (unlikely(q & IOQ_STRING))
		return vcpu_emulate(v);
	if (q & IOQ_IN)
		return io_in(v, port, size);
	return io_out(v, port, size);
}
