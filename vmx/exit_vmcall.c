/* VMCALL: Keel's hypercalls (ABI in guest/hypercall.h, README.md). */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"

#define AR_L_BIT BIT_ULL(13)     /* CS.L: 64-bit code (SDM Vol. 3C 25.4.1) */
#include "guest/guest.h"
#include "guest/hypercall.h"

void vuart_write_bytes(struct guest *g, const char *s, uint64_t n);

static int64_t hc_console_write(struct vcpu *v)
{
	uint64_t gpa = v->regs.rbx, len = v->regs.rcx;
	const char *s;

	if (len > KEEL_HC_CONSOLE_MAX)
		return KEEL_HC_EINVAL;
	s = guest_gpa_to_hva(v->guest, gpa, len);
	if (!s)
		return KEEL_HC_EINVAL;
	vuart_write_bytes(v->guest, s, len);
	return (int64_t)len;
}

static int64_t hc_counter(struct vcpu *v)
{
	struct guest *g = v->guest;
	uint64_t id = v->regs.rbx, sum = 0;

	if (id == KEEL_COUNTER_PORTS_UNCLAIMED)
		return (int64_t)g->dev.unhandled_total;
	if (id != KEEL_COUNTER_EXITS_TOTAL && id >= VMX_NR_EXIT_REASONS)
		return id < 0x100 ? 0 : KEEL_HC_EINVAL;
	for (unsigned int i = 0; i < g->nr_vcpus; i++) {
		const struct vcpu *o = g->vcpus[i];

		if (id != KEEL_COUNTER_EXITS_TOTAL) {
			sum += o->stats[id].count;
			continue;
		}
		for (unsigned int r = 0; r < VMX_NR_EXIT_REASONS; r++)
			sum += o->stats[r].count;
	}
	return (int64_t)sum;
}

/* Outside 64-bit mode the upper halves of the registers are undefined
 * (SDM Vol. 1 3.4.1.1): use the low 32 bits there. */
static void hc_narrow_args(struct vcpu *v)
{
	if (vmcs_read32(VMCS_GUEST_CS_AR) & AR_L_BIT)
		return;
	v->regs.rax = (uint32_t)v->regs.rax;
	v->regs.rbx = (uint32_t)v->regs.rbx;
	v->regs.rcx = (uint32_t)v->regs.rcx;
	v->regs.rdx = (uint32_t)v->regs.rdx;
}

int handle_vmcall(struct vcpu *v)
{
	int64_t ret;

	hc_narrow_args(v);
	if (vcpu_cpl()) {
		ret = KEEL_HC_EPERM;
	} else {
		switch (v->regs.rax) {
		case KEEL_HC_CONSOLE_WRITE:
			ret = hc_console_write(v);
			break;
		case KEEL_HC_EXIT:
			guest_end(v->guest, (v->regs.rbx << 1) | 1, "exit hypercall");
			return EXIT_STOP;
		case KEEL_HC_COUNTER:
			ret = hc_counter(v);
			break;
		default:
			ret = KEEL_HC_ENOSYS;
			break;
		}
	}
	v->regs.rax = (uint64_t)ret;
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}
