/* 16550 UART driver for Keel's own console. */
#ifndef KEEL_DRIVERS_UART_H
#define KEEL_DRIVERS_UART_H

#include "arch/compiler.h"

#define UART_COM1 0x3f8

void uart_init(uint16_t base, uint32_t baud);
void uart_putc(char c);
/* Waits until every byte has left the transmitter (bounded). */
void uart_drain(void);
/* Non-blocking read: returns -1 when no byte is waiting. */
int uart_getc(void);

#endif
