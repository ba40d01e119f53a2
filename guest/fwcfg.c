/*
 * QEMU firmware configuration, the legacy port interface (QEMU's
 * docs/specs/fw_cfg.rst): write a 16-bit key to 0x510, read its bytes one
 * at a time from 0x511. Guest test suites written for QEMU read the CPU
 * count and RAM size here.
 */
#include "guest/devices.h"
#include "guest/guest.h"
#include "arch/string.h"

#define FWCFG_SIGNATURE 0x00    /* "QEMU" */
#define FWCFG_ID        0x01    /* feature bits: 1 = traditional interface */
#define FWCFG_RAM_SIZE  0x03    /* 64-bit little endian */
#define FWCFG_NB_CPUS   0x05    /* 16-bit little endian */

static size_t fwcfg_item(struct guest *g, uint16_t key, uint8_t *buf)
{
	uint64_t v;

	switch (key) {
	case FWCFG_SIGNATURE:
		memcpy(buf, "QEMU", 4);
		return 4;
	case FWCFG_ID:
		v = 1;
		memcpy(buf, &v, 4);
		return 4;
	case FWCFG_RAM_SIZE:
		memcpy(buf, &g->mem_size, 8);
		return 8;
	case FWCFG_NB_CPUS:
		v = g->nr_vcpus;
		memcpy(buf, &v, 2);
		return 2;
	default:
		return 0;
	}
}

void fwcfg_io(struct guest *g, uint16_t off, unsigned int size, bool in,
	      uint32_t *val)
{
	struct fwcfg *f = &g->dev.fwcfg;
	uint8_t item[8];
	size_t len;

	if (off == 0) {                 /* selector */
		if (!in) {
			f->key = (uint16_t)*val;
			f->offset = 0;
		} else {
			*val = 0;
		}
		return;
	}
	if (!in || size != 1) {         /* data port: byte reads only */
		if (in)
			*val = 0;
		return;
	}
	len = fwcfg_item(g, f->key, item);
	*val = f->offset < len ? item[f->offset] : 0;
	f->offset++;
}
