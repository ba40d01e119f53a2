/* virtio-console: `devices = ["virtio-console"]` (guest/virtio_console.c). */
#ifndef KEEL_GUEST_VIRTIO_CONSOLE_H
#define KEEL_GUEST_VIRTIO_CONSOLE_H

#include "guest/virtio.h"

struct guest;

/* Puts the console on g's PCI bus: NULL or why not. */
const char *virtio_console_init(struct guest *g);

#endif
