/*
 * VM entry and the VM-exit stub: Keel's hot path.
 *
 * HOST_RSP in every VMCS points just past the vCPU's struct guest_regs
 * (at vcpu->host_rsp), so a VM exit pushes the guest's registers straight
 * into that struct: no copy. The stub then switches to the C stack saved
 * by vmx_launch, calls vmx_exit_dispatch(regs), marks the vCPU as
 * entering and looks for pending work (vmx_exit_attention() if there is
 * some), and either reloads the registers and resumes the guest or
 * returns from vmx_launch.
 *
 *   struct vcpu:  +0   regs.rax ... +120 regs.r15   (x86 register numbers)
 *                 +128 host_rsp  <- VMCS HOST_RSP
 *                 +136 attention (requests, guest_ending)
 *                 +144 in_guest
 *                 +152 lapic.work
 * (static asserts in guest/vcpu.h)
 */
#define REGS_HOST_RSP   128
#define VCPU_ATTENTION  136
#define VCPU_IN_GUEST   144
#define VCPU_LAPIC_WORK 152
#define VMCS_HOST_RSP   0x6c14

	.text

/* Loads the guest's registers from the struct at %rbx (rbx last). */
.macro LOAD_GUEST_REGS
	mov 0*8(%rbx), %rax
	mov 1*8(%rbx), %rcx
	mov 2*8(%rbx), %rdx
	mov 5*8(%rbx), %rbp
	mov 6*8(%rbx), %rsi
	mov 7*8(%rbx), %rdi
	mov 8*8(%rbx), %r8
	mov 9*8(%rbx), %r9
	mov 10*8(%rbx), %r10
	mov 11*8(%rbx), %r11
	mov 12*8(%rbx), %r12
	mov 13*8(%rbx), %r13
	mov 14*8(%rbx), %r14
	mov 15*8(%rbx), %r15
	mov 3*8(%rbx), %rbx
.endm

/*
 * int vmx_launch(struct guest_regs *regs)
 * Runs the guest of the current VMCS until an exit's answer is 0.
 * Returns 0 then, or -1 if VMLAUNCH/VMRESUME failed (VM-instruction error
 * in the VMCS; vmx_entry_failed() has reported it).
 */
	.global vmx_launch
vmx_launch:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	sub $8, %rsp                    /* 16-byte aligned calls from the stub */
	mov %rsp, REGS_HOST_RSP(%rdi)
	lea REGS_HOST_RSP(%rdi), %rax
	mov $VMCS_HOST_RSP, %rdx
	vmwrite %rax, %rdx
	mov %rdi, %rbx
	LOAD_GUEST_REGS
	vmlaunch
	/* VMLAUNCH failed: RSP is still the aligned C stack. */
	mov $0, %edi
	call vmx_entry_failed
	jmp vmx_return_fail

	.global vmx_exit_stub
vmx_exit_stub:
	/* RSP = &regs + 128: push r15 first so rax lands at offset 0. */
	push %r15
	push %r14
	push %r13
	push %r12
	push %r11
	push %r10
	push %r9
	push %r8
	push %rdi
	push %rsi
	push %rbp
	push $0                         /* guest RSP lives in the VMCS */
	push %rbx
	push %rdx
	push %rcx
	push %rax
	mov %rsp, %rbx                  /* struct guest_regs *, callee-saved */
	mov REGS_HOST_RSP(%rsp), %rsp
	mov %rbx, %rdi
	call *vmx_exit_dispatch(%rip)   /* the handler's answer in eax */
	/* vcpu_entering() (guest/vcpu.h): from here a request needs an
	 * answer; one posted before is in the loads that follow. */
	mov $1, %ecx
	xchg %cl, VCPU_IN_GUEST(%rbx)
	mov VCPU_LAPIC_WORK(%rbx), %ecx
	or VCPU_ATTENTION(%rbx), %rcx
	jnz vmx_exit_pending
vmx_resume:
	test %eax, %eax
	jz vmx_return_ok
	LOAD_GUEST_REGS
	vmresume
	/* VMRESUME failed: RSP is still the aligned C stack. */
	mov $1, %edi
	call vmx_entry_failed
	jmp vmx_return_fail

vmx_exit_pending:
	mov %rbx, %rdi
	mov %eax, %esi
	call vmx_exit_attention         /* the answer, or EXIT_STOP */
	jmp vmx_resume

vmx_return_ok:
	xor %eax, %eax
	jmp 1f
vmx_return_fail:
	mov $-1, %eax
1:	add $8, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
