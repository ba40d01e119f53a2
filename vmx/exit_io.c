/* I/O instruction exits (SDM Vol. 3C 28.2.1, Table 28-5). Every port exits
 * (the I/O bitmaps are all ones) and goes to the guest's own devices;
 * INS/OUTS go through the instruction emulator. */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "guest/guest.h"
#include "vmx/emulate.h"

int handle_io(struct vcpu *v)
{
	uint64_t q = vmcs_readnat(VMCS_EXIT_QUALIFICATION);
	unsigned int size = (unsigned int)(q & IOQ_SIZE_MASK) + 1;
	uint16_t port = (uint16_t)(q >> IOQ_PORT_SHIFT);
	uint32_t val;

	if (unlikely(q & IOQ_STRING))
		return vcpu_emulate(v);
	if (q & IOQ_IN) {
		uint64_t mask = size == 4 ? 0xffffffffULL : (1ULL << (size * 8)) - 1;

		devices_port_io(v->guest, port, size, true, &val);
		/* A 32-bit IN zero-extends into RAX; 8/16-bit ones merge. */
		v->regs.rax = size == 4 ? val : (v->regs.rax & ~mask) | (val & mask);
	} else {
		val = (uint32_t)v->regs.rax;
		devices_port_io(v->guest, port, size, false, &val);
	}
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}
