/* Live migration of a guest to its second slot (config: migrate_cpus). */
#ifndef KEEL_GUEST_MIGRATE_H
#define KEEL_GUEST_MIGRATE_H

#include "arch/compiler.h"

struct guest;

/* True when g has a migration configured that is due now. */
bool migrate_due(const struct guest *g);
/* Runs the migration on CPU 0 while the guest runs; prints the outcome. */
void migrate_guest(struct guest *g);
extern bool migrate_verify;     /* keel.migrate_verify=1 */

#endif
