/*
 * The xAPIC and I/O APIC registers a test guest uses to take device
 * interrupts (SDM Vol. 3A 11.4.1, 11.8.5; 82093AA datasheet 3.0-3.2),
 * at their default addresses (the MADT Keel builds names them), and the
 * x2APIC MSRs of the same registers (11.12.1.2).
 */
#ifndef KEEL_TEST_APIC_H
#define KEEL_TEST_APIC_H

#include <stdint.h>
#include "apic_regs.h"

#define IOAPIC_MMIO         0xfec00000u
#define IOAPIC_SEL          0x00
#define IOAPIC_WIN          0x10
#define IOAPIC_REG_ID       0x00
#define IOAPIC_REG_VER      0x01
#define IOAPIC_REG_REDIR    0x10        /* + 2 * pin: low dword */
#define IOAPIC_PINS         24
#define REDIR_STATUS        (1u << 12)
#define REDIR_REMOTE_IRR    (1u << 14)
#define REDIR_LEVEL         (1u << 15)
#define REDIR_MASKED        (1u << 16)

static inline void apic_write(uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off) = val;
}

static inline uint32_t apic_read(uint32_t off)
{
	return *(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off);
}

static inline uint32_t ioapic_read(uint32_t reg)
{
	*(volatile uint32_t *)(uintptr_t)(IOAPIC_MMIO + IOAPIC_SEL) = reg;
	return *(volatile uint32_t *)(uintptr_t)(IOAPIC_MMIO + IOAPIC_WIN);
}

static inline void ioapic_write(uint32_t reg, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)(IOAPIC_MMIO + IOAPIC_SEL) = reg;
	*(volatile uint32_t *)(uintptr_t)(IOAPIC_MMIO + IOAPIC_WIN) = val;
}

#endif
